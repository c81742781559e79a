//! The `Idempotency-Key` of `POST /orders`, parsed at the edge, and the order it names.

use sha2::{Digest, Sha256};

use crate::domain::{CustomerId, DomainError, OrderId};

/// A client's `Idempotency-Key`: 1 to 255 visible ASCII characters (e.g. a UUID).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// The longest key accepted.
    pub const MAX_LEN: usize = 255;

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let valid =
            (1..=Self::MAX_LEN).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_graphic());
        if !valid {
            return Err(DomainError::invalid(
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            ));
        }
        Ok(IdempotencyKey(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The order this key names for `customer`: the same customer and key always name the same
    /// order, so a retry after a partial failure finds the order it started, and the order item
    /// is the key's record (DESIGN §2).
    pub fn order_id(&self, customer: &CustomerId) -> OrderId {
        let digest = Sha256::digest(format!("{customer}\u{0}{}", self.0).as_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        OrderId::from_uuid(uuid::Builder::from_random_bytes(bytes).into_uuid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(raw: &str) -> IdempotencyKey {
        IdempotencyKey::parse(raw).unwrap()
    }

    #[test]
    fn an_idempotency_key_names_one_order_per_customer() {
        let ana = CustomerId::parse("ana").unwrap();
        let bob = CustomerId::parse("bob").unwrap();
        assert_eq!(key("k1").order_id(&ana), key("k1").order_id(&ana));
        assert_ne!(key("k1").order_id(&ana), key("k2").order_id(&ana));
        assert_ne!(key("k1").order_id(&ana), key("k1").order_id(&bob));
        let id = key("k1").order_id(&ana);
        assert_eq!(OrderId::parse(id.as_str()).unwrap(), id);
    }

    #[test]
    fn a_key_is_one_to_255_visible_ascii_characters() {
        assert_eq!(key("a").as_str(), "a");
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_ok());
        for bad in ["", " ", "a b", "tab\tkey", "é", &"k".repeat(256)] {
            assert!(IdempotencyKey::parse(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn any_string_is_a_key_exactly_when_it_is_short_visible_ascii(raw in ".{0,300}") {
            let expected = (1..=255).contains(&raw.len()) && raw.bytes().all(|b| (0x21..=0x7e).contains(&b));
            prop_assert_eq!(IdempotencyKey::parse(&raw).is_ok(), expected);
        }

        #[test]
        fn every_visible_ascii_key_parses_to_itself(raw in "[!-~]{1,255}") {
            prop_assert_eq!(IdempotencyKey::parse(&raw).map(|k| k.as_str().to_owned()), Ok(raw.clone()));
        }
    }
}
