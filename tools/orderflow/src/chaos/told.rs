//! What every customer was told: notifications read from the customer inbox, counted per order.

use std::collections::HashMap;

use serde_json::Value;

use crate::harness::Inbox;

pub struct Told {
    inbox: Inbox,
    /// orderId → notifications seen.
    pub per_order: HashMap<String, usize>,
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
        let mut notifications = Vec::new();
        let _ = self.inbox.drain_into(&mut notifications, 0).await;
        tally(&mut self.per_order, &notifications);
    }

    /// How often the customer of `order_id` was told.
    pub fn times(&self, order_id: &str) -> usize {
        self.per_order.get(order_id).copied().unwrap_or(0)
    }
}

/// Adds each notification to its order's count; one without an order id counts nowhere.
fn tally(per_order: &mut HashMap<String, usize>, notifications: &[Value]) {
    for n in notifications {
        if let Some(id) = n.get("orderId").and_then(Value::as_str) {
            *per_order.entry(id.to_owned()).or_default() += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn notifications_are_counted_per_order_and_one_without_an_order_is_not() {
        let mut per_order = HashMap::new();
        tally(
            &mut per_order,
            &[
                json!({"orderId": "o-1", "kind": "OrderConfirmed"}),
                json!({"orderId": "o-2"}),
                json!({"kind": "stray"}),
            ],
        );
        tally(&mut per_order, &[json!({"orderId": "o-1"})]);
        assert_eq!(per_order.get("o-1"), Some(&2));
        assert_eq!(per_order.get("o-2"), Some(&1));
        assert_eq!(per_order.len(), 2);
    }
}
