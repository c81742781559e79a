//! What reached the dead-letter queues, and why. A malformed message this run sent on purpose
//! (poison) and one about an order whose provider fails permanently (`tok_gateway_error`) belong
//! there; anything else got there through injected transient faults, which the pipeline must
//! absorb: those are the `dead_lettered` count, and the only ones redriven.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

use crate::local::logs::ReasonRecord;

/// What every poison message of a run starts with: not JSON, so no consumer can read it.
pub const POISON_MARK: &str = "chaos-poison";

/// The payment token whose provider fails every time (the simulated gateway's).
pub const PERMANENT_FAILURE_TOKEN: &str = "tok_gateway_error";

/// Why a message is in a dead-letter queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// Malformed on purpose by this run.
    Poison,
    /// About an order whose provider fails permanently.
    PermanentFailure,
    /// Neither: injected transient faults put it there.
    Transient,
}

impl Why {
    pub fn is_expected(self) -> bool {
        self != Why::Transient
    }
}

/// The body of the `n`-th poison message of a run.
pub fn poison_body(n: usize) -> String {
    format!("{POISON_MARK} {n}: malformed on purpose, not an EventBridge event")
}

/// Why a message with this body is dead-lettered; `failing` holds the orders whose provider
/// fails permanently.
pub fn classify(body: &str, failing: &HashSet<String>) -> Why {
    if body.starts_with(POISON_MARK) {
        return Why::Poison;
    }
    match order_of(body) {
        Some(order) if failing.contains(&order) => Why::PermanentFailure,
        _ => Why::Transient,
    }
}

/// The order an EventBridge event delivered to a queue is about: its envelope's correlation id.
fn order_of(body: &str) -> Option<String> {
    let event: Value = serde_json::from_str(body).ok()?;
    event
        .pointer("/detail/metadata/correlationId")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// Every message seen in a dead-letter queue during the run (a message redriven and
/// dead-lettered again comes back under a new id, and counts again).
#[derive(Debug, Default)]
pub struct DeadLetters {
    seen: HashMap<String, Why>,
}

impl DeadLetters {
    /// Records a message seen in a dead-letter queue; returns why it is there.
    pub fn saw(&mut self, message_id: &str, body: &str, failing: &HashSet<String>) -> Why {
        *self
            .seen
            .entry(message_id.to_owned())
            .or_insert_with(|| classify(body, failing))
    }

    /// Messages dead-lettered by injected transient faults.
    pub fn transient(&self) -> usize {
        self.seen.values().filter(|w| !w.is_expected()).count()
    }

    /// Messages dead-lettered as they must be.
    pub fn expected(&self) -> usize {
        self.seen.values().filter(|w| w.is_expected()).count()
    }

    /// How many transient dead letters each last failure reason explains (`function: reason`,
    /// from the reasons the local cloud recorded; "unknown" for a message it has none for).
    pub fn transient_reasons(
        &self,
        reasons: &HashMap<String, ReasonRecord>,
    ) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for (id, _) in self.seen.iter().filter(|(_, w)| !w.is_expected()) {
            let why = reasons.get(id).map_or_else(
                || "unknown".to_owned(),
                |r| {
                    format!(
                        "{}: {}",
                        r.function,
                        r.reason.chars().take(120).collect::<String>()
                    )
                },
            );
            *out.entry(why).or_default() += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event(order: &str) -> String {
        json!({"version": "0", "detail-type": "InventoryReserved", "source": "orderflow.inventory",
               "detail": {"metadata": {"correlationId": order, "type": "InventoryReserved"}, "data": {}}})
        .to_string()
    }

    #[test]
    fn poison_and_a_permanently_failing_order_are_expected_and_anything_else_is_transient() {
        let failing = HashSet::from(["o-gateway".to_owned()]);
        assert_eq!(classify(&poison_body(3), &failing), Why::Poison);
        assert_eq!(
            classify(&event("o-gateway"), &failing),
            Why::PermanentFailure
        );
        assert_eq!(classify(&event("o-visa"), &failing), Why::Transient);
        assert_eq!(classify("{}", &failing), Why::Transient);
        assert_eq!(classify("not json", &failing), Why::Transient);
    }

    #[test]
    fn each_message_counts_once_and_a_redriven_one_again_under_its_new_id() {
        let failing = HashSet::new();
        let mut dead = DeadLetters::default();
        dead.saw("m-1", &event("o-1"), &failing);
        dead.saw("m-1", &event("o-1"), &failing);
        dead.saw("m-2", &poison_body(0), &failing);
        dead.saw("m-3", &event("o-1"), &failing);
        assert_eq!((dead.transient(), dead.expected()), (2, 1));
    }

    #[test]
    fn the_transient_ones_are_explained_by_their_last_recorded_reason() {
        let failing = HashSet::new();
        let mut dead = DeadLetters::default();
        for id in ["m-1", "m-2", "m-3"] {
            dead.saw(id, &event("o"), &failing);
        }
        dead.saw("m-4", &poison_body(1), &failing);
        let reason = |id: &str, why: &str| ReasonRecord {
            message_id: id.into(),
            function: "send-notification".into(),
            reason: why.into(),
            at: String::new(),
        };
        let reasons = HashMap::from([
            ("m-1".to_owned(), reason("m-1", "lock held")),
            ("m-2".to_owned(), reason("m-2", "lock held")),
            ("m-4".to_owned(), reason("m-4", "malformed")),
        ]);
        assert_eq!(
            dead.transient_reasons(&reasons),
            BTreeMap::from([
                ("send-notification: lock held".to_owned(), 2),
                ("unknown".to_owned(), 1)
            ])
        );
    }
}
