//! The `ClientRequestToken` of a `TransactWriteItems`, derived from the request itself: the
//! SHA-256 of a canonical encoding of every item (tables, keys, expressions, values; maps in
//! key order). The same transaction sent again (the SDK's retry after a lost response, our
//! retry after a conflict) carries the same token, so DynamoDB answers success for the one
//! that was applied instead of failing its conditions; a different transaction (another step,
//! order or timestamp, e.g. a redelivery that rebuilt it) has another token and meets the
//! conditions as before, never `IdempotentParameterMismatchException`. DynamoDB remembers a
//! token for 10 minutes; past that a resend is a new request, and its conditions keep it safe.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use sha2::{Digest, Sha256};

/// The token of the transaction `items` (32 hex digits: 128 bits of the digest).
pub(super) fn request_token(items: &[TransactWriteItem]) -> String {
    let mut canon = Canon(Sha256::new());
    for item in items {
        canon.item(item);
    }
    canon.0.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Feeds each value with its kind and length, so no two requests encode alike.
struct Canon(Sha256);

impl Canon {
    fn bytes(&mut self, tag: u8, bytes: &[u8]) {
        self.0.update([tag]);
        self.0.update((bytes.len() as u64).to_be_bytes());
        self.0.update(bytes);
    }

    fn str(&mut self, tag: u8, value: Option<&str>) {
        match value {
            Some(v) => self.bytes(tag, v.as_bytes()),
            None => self.0.update([0]),
        }
    }

    fn item(&mut self, item: &TransactWriteItem) {
        if let Some(put) = item.put() {
            self.str(b'P', Some(put.table_name()));
            self.values(put.item());
            self.parts(
                put.condition_expression(),
                put.expression_attribute_names(),
                put.expression_attribute_values(),
            );
        }
        if let Some(update) = item.update() {
            self.str(b'U', Some(update.table_name()));
            self.values(update.key());
            self.str(b'u', Some(update.update_expression()));
            self.parts(
                update.condition_expression(),
                update.expression_attribute_names(),
                update.expression_attribute_values(),
            );
        }
        if let Some(delete) = item.delete() {
            self.str(b'D', Some(delete.table_name()));
            self.values(delete.key());
            self.parts(
                delete.condition_expression(),
                delete.expression_attribute_names(),
                delete.expression_attribute_values(),
            );
        }
        if let Some(check) = item.condition_check() {
            self.str(b'C', Some(check.table_name()));
            self.values(check.key());
            self.parts(
                Some(check.condition_expression()),
                check.expression_attribute_names(),
                check.expression_attribute_values(),
            );
        }
    }

    fn parts(
        &mut self,
        condition: Option<&str>,
        names: Option<&HashMap<String, String>>,
        values: Option<&HashMap<String, AttributeValue>>,
    ) {
        self.str(b'c', condition);
        let mut names: Vec<_> = names.into_iter().flatten().collect();
        names.sort();
        self.0.update((names.len() as u64).to_be_bytes());
        for (k, v) in names {
            self.str(b'k', Some(k));
            self.str(b'v', Some(v));
        }
        match values {
            Some(values) => self.values(values),
            None => self.0.update([0]),
        }
    }

    fn values(&mut self, map: &HashMap<String, AttributeValue>) {
        let mut entries: Vec<_> = map.iter().collect();
        entries.sort_by(|a, b| a.0.cmp(b.0));
        self.0.update([b'M']);
        self.0.update((entries.len() as u64).to_be_bytes());
        for (name, value) in entries {
            self.str(b'k', Some(name));
            self.value(value);
        }
    }

    fn value(&mut self, value: &AttributeValue) {
        match value {
            AttributeValue::S(s) => self.bytes(b's', s.as_bytes()),
            AttributeValue::N(n) => self.bytes(b'n', n.as_bytes()),
            AttributeValue::B(b) => self.bytes(b'b', b.as_ref()),
            AttributeValue::Bool(b) => self.bytes(b'?', &[u8::from(*b)]),
            AttributeValue::Null(_) => self.bytes(b'0', &[]),
            AttributeValue::M(map) => self.values(map),
            AttributeValue::L(list) => {
                self.0.update([b'L']);
                self.0.update((list.len() as u64).to_be_bytes());
                list.iter().for_each(|v| self.value(v));
            }
            AttributeValue::Ss(set) | AttributeValue::Ns(set) => {
                let mut sorted: Vec<&String> = set.iter().collect();
                sorted.sort();
                self.0.update([b'S']);
                sorted.iter().for_each(|s| self.bytes(b's', s.as_bytes()));
            }
            AttributeValue::Bs(set) => {
                let mut sorted: Vec<&[u8]> = set.iter().map(|b| b.as_ref()).collect();
                sorted.sort();
                self.0.update([b'B']);
                sorted.iter().for_each(|b| self.bytes(b'b', b));
            }
            // A kind this SDK version does not know: its debug form still tells requests apart.
            other => self.bytes(b'?', format!("{other:?}").as_bytes()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::{Put, Update};

    fn put(table: &str, pk: &str, at: &str) -> TransactWriteItem {
        let put = Put::builder()
            .table_name(table)
            .item("pk", AttributeValue::S(pk.into()))
            .item("at", AttributeValue::S(at.into()))
            .item("n", AttributeValue::N("1".into()))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .unwrap();
        TransactWriteItem::builder().put(put).build()
    }

    fn update(table: &str, pk: &str, qty: &str) -> TransactWriteItem {
        let update = Update::builder()
            .table_name(table)
            .key("pk", AttributeValue::S(pk.into()))
            .update_expression("SET stock = stock - :q")
            .condition_expression("stock >= :q")
            .expression_attribute_values(":q", AttributeValue::N(qty.into()))
            .build()
            .unwrap();
        TransactWriteItem::builder().update(update).build()
    }

    #[test]
    fn the_same_transaction_built_twice_has_the_same_token() {
        // Rebuilt, its maps iterate in another order: the token does not change.
        let tokens: Vec<String> = (0..20)
            .map(|_| request_token(&[put("T", "a", "t1"), update("I", "sku", "2")]))
            .collect();
        assert!(tokens.iter().all(|t| t == &tokens[0]));
        assert_eq!(tokens[0].len(), 32);
        assert!(
            tokens[0].len() <= 36,
            "DynamoDB's limit on a token's length"
        );
        assert!(tokens[0].bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn any_difference_in_what_the_transaction_does_changes_the_token() {
        let base = request_token(&[put("T", "a", "t1"), update("I", "sku", "2")]);
        for other in [
            vec![put("T2", "a", "t1"), update("I", "sku", "2")],
            vec![put("T", "b", "t1"), update("I", "sku", "2")],
            vec![put("T", "a", "t2"), update("I", "sku", "2")],
            vec![put("T", "a", "t1"), update("I", "sku", "3")],
            vec![put("T", "a", "t1"), update("I", "other", "2")],
            vec![update("I", "sku", "2"), put("T", "a", "t1")],
            vec![put("T", "a", "t1")],
        ] {
            assert_ne!(request_token(&other), base, "{other:?}");
        }
    }
}
