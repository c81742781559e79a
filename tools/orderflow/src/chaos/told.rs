//! What every customer was told: notifications read from the customer inbox, per order and per
//! `notificationId` (`<orderId>:<kind>`, the SNS message attribute subscribers deduplicate on).
//!
//! One id published again with the same content is a *redundant publish*: SNS and the function
//! cannot rule it out (a lost publish answer, a crash before the key is completed), and a
//! subscriber drops it by id. One id with two different contents is a *duplicate*: the customer
//! was told two things, which no subscriber can fix. A notification without its id (or with an
//! id that does not name its own order and kind) counts as a duplicate too: nobody could drop
//! its repeats.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;

use crate::harness::{Delivery, Inbox};

pub struct Told {
    inbox: Inbox,
    /// orderId → what its customer was told.
    pub per_order: HashMap<String, OrderTold>,
}

/// What one customer was told about one order.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct OrderTold {
    /// notificationId → each distinct content (the notification's JSON) → times published.
    by_id: BTreeMap<String, HashMap<String, usize>>,
    /// Notifications without a `notificationId` naming their own order and kind.
    unidentified: usize,
    /// The kinds told (`OrderConfirmed`, …).
    kinds: BTreeSet<String>,
}

impl OrderTold {
    /// Every notification seen, repeats included.
    pub fn times(&self) -> usize {
        self.unidentified + self.by_id.values().flat_map(HashMap::values).sum::<usize>()
    }

    /// Contents beyond the first under one id, plus every notification without its id.
    pub fn duplicates(&self) -> usize {
        self.unidentified
            + self
                .by_id
                .values()
                .map(|contents| contents.len().saturating_sub(1))
                .sum::<usize>()
    }

    /// Publishes of a content already told under its id.
    pub fn redundant(&self) -> usize {
        self.by_id
            .values()
            .flat_map(HashMap::values)
            .map(|n| n.saturating_sub(1))
            .sum()
    }

    /// The kinds the customer was told.
    pub fn kinds(&self) -> impl Iterator<Item = &str> {
        self.kinds.iter().map(String::as_str)
    }
}

impl Told {
    pub fn new(inbox: Inbox) -> Told {
        Told {
            inbox,
            per_order: HashMap::new(),
        }
    }

    /// Consumes what the inbox holds now and counts it; a failed read is retried by the
    /// next call.
    pub async fn drain(&mut self) {
        let mut delivered = Vec::new();
        let _ = self.inbox.drain_deliveries_into(&mut delivered, 0).await;
        tally(&mut self.per_order, &delivered);
    }

    /// How often the customer of `order_id` was told anything.
    pub fn times(&self, order_id: &str) -> usize {
        self.per_order.get(order_id).map_or(0, OrderTold::times)
    }

    /// What the customer of `order_id` was told (nothing: an empty record).
    pub fn of(&self, order_id: &str) -> OrderTold {
        self.per_order.get(order_id).cloned().unwrap_or_default()
    }
}

/// Adds each notification to its order's record; one without an order id counts nowhere.
pub(super) fn tally(per_order: &mut HashMap<String, OrderTold>, delivered: &[Delivery]) {
    for d in delivered {
        let n = &d.notification;
        let Some(order_id) = n.get("orderId").and_then(Value::as_str) else {
            continue;
        };
        let kind = n.get("kind").and_then(Value::as_str).unwrap_or_default();
        let told = per_order.entry(order_id.to_owned()).or_default();
        told.kinds.insert(kind.to_owned());
        let own_id = format!("{order_id}:{kind}");
        if d.notification_id.as_deref() != Some(own_id.as_str()) {
            told.unidentified += 1;
            continue;
        }
        *told
            .by_id
            .entry(own_id)
            .or_default()
            .entry(n.to_string())
            .or_default() += 1;
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn told(order: &str, kind: &str, text: &str) -> Delivery {
        Delivery {
            notification: json!({"orderId": order, "kind": kind, "text": text}),
            notification_id: Some(format!("{order}:{kind}")),
        }
    }

    fn tallied(delivered: &[Delivery]) -> HashMap<String, OrderTold> {
        let mut per_order = HashMap::new();
        tally(&mut per_order, delivered);
        per_order
    }

    #[test]
    fn one_notification_per_order_is_neither_duplicate_nor_redundant() {
        let per_order = tallied(&[
            told("o-1", "OrderConfirmed", "a"),
            told("o-2", "OrderRejected", "b"),
        ]);
        for id in ["o-1", "o-2"] {
            let t = &per_order[id];
            assert_eq!((t.times(), t.duplicates(), t.redundant()), (1, 0, 0));
        }
        assert_eq!(
            per_order["o-1"].kinds().collect::<Vec<_>>(),
            ["OrderConfirmed"]
        );
    }

    #[test]
    fn the_same_id_and_content_again_is_a_redundant_publish_not_a_duplicate() {
        let per_order = tallied(&[
            told("o-1", "OrderConfirmed", "a"),
            told("o-1", "OrderConfirmed", "a"),
            told("o-1", "OrderConfirmed", "a"),
        ]);
        let t = &per_order["o-1"];
        assert_eq!((t.times(), t.duplicates(), t.redundant()), (3, 0, 2));
    }

    #[test]
    fn another_content_under_one_id_is_a_duplicate() {
        let per_order = tallied(&[
            told("o-1", "OrderRejected", "SKU-MUG: 0 left"),
            told("o-1", "OrderRejected", "SKU-MUG: 3 left"),
            told("o-1", "OrderRejected", "SKU-MUG: 3 left"),
        ]);
        let t = &per_order["o-1"];
        assert_eq!((t.times(), t.duplicates(), t.redundant()), (3, 1, 1));
    }

    #[test]
    fn a_notification_without_its_own_id_counts_as_a_duplicate() {
        let mut missing = told("o-1", "OrderConfirmed", "a");
        missing.notification_id = None;
        let mut wrong = told("o-2", "OrderConfirmed", "a");
        wrong.notification_id = Some("o-2:OrderCancelled".into());
        let per_order = tallied(&[missing, wrong]);
        assert_eq!(per_order["o-1"].duplicates(), 1);
        assert_eq!(per_order["o-2"].duplicates(), 1);
        assert_eq!(per_order["o-2"].redundant(), 0);
    }

    #[test]
    fn two_kinds_for_one_order_are_two_ids_and_both_kinds_are_kept() {
        let per_order = tallied(&[
            told("o-1", "OrderConfirmed", "a"),
            told("o-1", "OrderCancelled", "b"),
        ]);
        let t = &per_order["o-1"];
        assert_eq!((t.times(), t.duplicates(), t.redundant()), (2, 0, 0));
        assert_eq!(
            t.kinds().collect::<Vec<_>>(),
            ["OrderCancelled", "OrderConfirmed"]
        );
    }

    #[test]
    fn a_notification_without_an_order_counts_nowhere() {
        let stray = Delivery {
            notification: json!({"kind": "stray"}),
            notification_id: None,
        };
        assert!(tallied(&[stray]).is_empty());
    }
}
