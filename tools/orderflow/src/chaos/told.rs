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
        self.count(&notifications);
    }

    fn count(&mut self, notifications: &[Value]) {
        for n in notifications {
            if let Some(id) = n.get("orderId").and_then(Value::as_str) {
                *self.per_order.entry(id.to_owned()).or_default() += 1;
            }
        }
    }

    /// How often the customer of `order_id` was told.
    pub fn times(&self, order_id: &str) -> usize {
        self.per_order.get(order_id).copied().unwrap_or(0)
    }
}
