//! Value types parsed at the boundary: once a value of one of these types exists, it is valid.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use super::DomainError;

/// Implements the string-newtype plumbing shared by every identifier: `as_str`, `Display`,
/// `Serialize`, and a `Deserialize` that goes through the fallible constructor.
macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                $name::parse(&raw).map_err(serde::de::Error::custom)
            }
        }

        impl std::str::FromStr for $name {
            type Err = DomainError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::parse(s)
            }
        }
    };
}

/// An order's identity: a UUID chosen by the service, never by the client.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrderId(String);
string_newtype!(OrderId);

impl OrderId {
    pub fn new() -> Self {
        OrderId(Uuid::new_v4().to_string())
    }

    pub fn from_uuid(id: Uuid) -> Self {
        OrderId(id.hyphenated().to_string())
    }

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let id =
            Uuid::parse_str(raw).map_err(|_| DomainError::invalid("orderId", "must be a UUID"))?;
        // The canonical hyphenated lower-case form, so one order has one key.
        Ok(OrderId(id.hyphenated().to_string()))
    }
}

impl Default for OrderId {
    fn default() -> Self {
        Self::new()
    }
}

fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '|' | '@' | ':')
}

/// The customer placing the order; with auth on, the token's subject.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CustomerId(String);
string_newtype!(CustomerId);

impl CustomerId {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        if raw.is_empty() || raw.len() > 128 {
            return Err(DomainError::invalid(
                "customerId",
                "must be 1 to 128 characters",
            ));
        }
        if !raw.chars().all(is_id_char) {
            return Err(DomainError::invalid(
                "customerId",
                "may contain only letters, digits and - _ . | @ :",
            ));
        }
        Ok(CustomerId(raw.to_owned()))
    }
}

/// A stock-keeping unit: upper-case letters, digits and dashes, e.g. `SKU-TSHIRT-M`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sku(String);
string_newtype!(Sku);

impl Sku {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let ok_len = (1..=64).contains(&raw.len());
        let ok_chars = raw
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-');
        if !ok_len || !ok_chars || raw.starts_with('-') {
            return Err(DomainError::invalid(
                "sku",
                "must be 1 to 64 characters of A-Z, 0-9 and '-', not starting with '-'",
            ));
        }
        Ok(Sku(raw.to_owned()))
    }
}

/// An e-mail address, checked for shape only (the mail system is the real judge).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);
string_newtype!(Email);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let invalid = || DomainError::invalid("email", "must be an address like name@example.com");
        if raw.len() > 254 || raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = raw.split_once('@').ok_or_else(invalid)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && !domain.contains('@');
        if local.is_empty() || local.len() > 64 || !domain_ok {
            return Err(invalid());
        }
        Ok(Email(raw.to_owned()))
    }
}

/// Personal data stays out of logs even when a struct is debug-printed.
impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Email(<redacted>)")
    }
}

/// An opaque reference to a payment method held by the payment provider (`tok_...`).
/// Never card data; still kept out of logs.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PaymentToken(String);
string_newtype!(PaymentToken);

impl PaymentToken {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let rest = raw.strip_prefix("tok_");
        let ok = rest.is_some_and(|r| {
            (1..=64).contains(&r.len())
                && r.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        });
        if !ok {
            return Err(DomainError::invalid(
                "paymentToken",
                "must match ^tok_[a-z0-9_]{1,64}$",
            ));
        }
        Ok(PaymentToken(raw.to_owned()))
    }
}

impl fmt::Debug for PaymentToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PaymentToken(<redacted>)")
    }
}

/// How many units of one SKU a line asks for: 1 to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Quantity(u32);

impl Quantity {
    pub const MAX: u32 = 100;

    pub fn new(n: u32) -> Result<Self, DomainError> {
        if (1..=Self::MAX).contains(&n) {
            Ok(Quantity(n))
        } else {
            Err(DomainError::invalid(
                "quantity",
                "must be an integer from 1 to 100",
            ))
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.0)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u32::deserialize(d)?;
        Quantity::new(n).map_err(serde::de::Error::custom)
    }
}

/// An ISO 4217 currency code: three upper-case letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    pub const EUR: Currency = Currency(*b"EUR");

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        match raw.as_bytes() {
            [a, b, c] if [a, b, c].iter().all(|x| x.is_ascii_uppercase()) => {
                Ok(Currency([*a, *b, *c]))
            }
            _ => Err(DomainError::invalid(
                "currency",
                "must be an ISO 4217 code of three upper-case letters",
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        // Built only from three ASCII upper-case letters, so always valid UTF-8.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Currency::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// Money as integer minor units (cents) and a currency. Never a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub amount: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(amount: i64, currency: Currency) -> Self {
        Money { amount, currency }
    }

    pub fn zero(currency: Currency) -> Self {
        Money::new(0, currency)
    }

    /// `self × n`, or an error on overflow.
    pub fn times(self, n: u32) -> Result<Money, DomainError> {
        self.amount
            .checked_mul(i64::from(n))
            .map(|amount| Money::new(amount, self.currency))
            .ok_or(DomainError::AmountOverflow)
    }

    /// `self + other`, or an error when currencies differ or the sum overflows.
    pub fn plus(self, other: Money) -> Result<Money, DomainError> {
        if self.currency != other.currency {
            return Err(DomainError::CurrencyMismatch {
                expected: self.currency,
                found: other.currency,
            });
        }
        self.amount
            .checked_add(other.amount)
            .map(|amount| Money::new(amount, self.currency))
            .ok_or(DomainError::AmountOverflow)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.amount < 0 { "-" } else { "" };
        let abs = self.amount.unsigned_abs();
        write!(f, "{sign}{}.{:02} {}", abs / 100, abs % 100, self.currency)
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod properties;
