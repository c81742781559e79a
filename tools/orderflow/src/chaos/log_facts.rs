//! What the local cloud's log says happened: the faults injected (by the AWS proxy, the event
//! source mappings and the functions), every charge the payment provider approved, and lines
//! that leak an e-mail address or a payment token. The run's counts are checked against it.

use std::collections::{BTreeMap, HashMap, HashSet};

use orderflow_shared::domain::{OrderId, OrderStatus};
use orderflow_shared::telemetry::messages::{self, fault};
use serde_json::Value;

use super::report::FaultCounts;
use super::watch::Seen;
use crate::local::messages::{
    AWS_FAULTS, INJECTED_DUPLICATE_DELIVERY, INJECTED_THROTTLING, INJECTED_UNAVAILABLE,
};

/// What the provider and the fault injectors said, read from the local cloud's log.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct LogFacts {
    pub faults: FaultCounts,
    /// orderId → charge ids the provider approved (one per approval).
    pub charges: HashMap<String, Vec<String>>,
    /// Lines carrying an e-mail address or a payment token.
    pub sensitive_lines: usize,
}

impl LogFacts {
    /// Adds the approved charges (order id, charge id) read from the provider's own table that
    /// its log lines did not show: a charge whose line never came (the process died first)
    /// still counts.
    pub fn add_provider_records(&mut self, charges: Vec<(String, String)>) {
        for (order, charge) in charges {
            let ids = self.charges.entry(order).or_default();
            if !ids.contains(&charge) {
                ids.push(charge);
            }
        }
    }

    /// Orders the provider charged under more than one charge id.
    pub fn double_charged(&self) -> usize {
        self.charges
            .values()
            .filter(|ids| ids.iter().collect::<HashSet<_>>().len() > 1)
            .count()
    }
}

/// Reads the local cloud's log: `<who> | <text>` lines, function lines being JSON.
pub fn read_log(text: &str) -> LogFacts {
    let mut facts = LogFacts::default();
    for line in text.lines() {
        if orderflow_shared::telemetry::find_sensitive(line).is_some() {
            facts.sensitive_lines += 1;
        }
        let Some((who, rest)) = line.split_once(" | ") else {
            continue;
        };
        if !read_cloud_line(who.trim(), rest, &mut facts.faults) {
            if let Ok(v) = serde_json::from_str::<Value>(rest) {
                read_function_line(&v, &mut facts);
            }
        }
    }
    facts
}

/// A fault the local cloud itself injected (the AWS proxy, an event source mapping); `false`
/// when the line is not one.
fn read_cloud_line(who: &str, rest: &str, faults: &mut FaultCounts) -> bool {
    if who == AWS_FAULTS {
        if rest.contains(INJECTED_THROTTLING) {
            faults.aws_throttle += 1;
        } else if rest.contains(INJECTED_UNAVAILABLE) {
            faults.aws_unavailable += 1;
        }
        return true;
    }
    match rest.split(INJECTED_DUPLICATE_DELIVERY).nth(1) {
        Some(ids) => {
            faults.duplicate_delivery += ids.split(", ").count() as u64;
            true
        }
        None => false,
    }
}

/// A function's JSON line: a fault it injected into itself, or the provider approving a charge.
fn read_function_line(v: &Value, facts: &mut LogFacts) {
    match v.get(messages::FAULT).and_then(Value::as_str) {
        Some(fault::ERROR_BEFORE) => facts.faults.error_before += 1,
        Some(fault::ERROR_AFTER) => facts.faults.error_after += 1,
        Some(fault::CRASH) => facts.faults.crash += 1,
        Some(fault::DELAY) => facts.faults.delay += 1,
        _ => {}
    }
    if v.get("message").and_then(Value::as_str) == Some(messages::PROVIDER_CHARGE_APPROVED) {
        if let (Some(order), Some(charge)) = (
            v.get(messages::ORDER_ID).and_then(Value::as_str),
            v.get(messages::CHARGE_ID).and_then(Value::as_str),
        ) {
            facts
                .charges
                .entry(order.to_owned())
                .or_default()
                .push(charge.to_owned());
        }
    }
}

/// Approved by the provider but not confirmed, or confirmed with nothing approved.
pub fn provider_mismatches(statuses: &BTreeMap<OrderId, Seen>, facts: &LogFacts) -> usize {
    let confirmed = |seen: &Seen| *seen == Seen::Status(OrderStatus::Confirmed);
    let charged_not_confirmed = facts
        .charges
        .keys()
        .filter(|id| {
            let seen = OrderId::parse(id).ok().and_then(|id| statuses.get(&id));
            !seen.is_some_and(confirmed)
        })
        .count();
    let confirmed_not_charged = statuses
        .iter()
        .filter(|(id, seen)| confirmed(seen) && !facts.charges.contains_key(id.as_str()))
        .count();
    charged_not_confirmed + confirmed_not_charged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_reader_counts_each_kind_of_fault_and_each_provider_charge() {
        let log = [
            r#"        aws-faults | injected fault: throttling DynamoDB_20120810.PutItem"#,
            r#"        aws-faults | injected fault: 503 for AWSEvents.PutEvents"#,
            r#"update-inventory#0 | injected fault: duplicate delivery of m-1, m-2"#,
            r#"  update-inventory | {"level":"WARN","fault":"error_before","message":"injected fault"}"#,
            r#"   process-payment | {"level":"WARN","fault":"error_after","message":"injected fault"}"#,
            r#"   process-payment | {"level":"ERROR","fault":"crash","message":"injected fault: the process exits mid-batch, after the effect"}"#,
            r#"   process-payment | {"level":"INFO","message":"payment provider: charge approved","order_id":"o-1","charge_id":"ch_o1"}"#,
            r#"   process-payment | {"level":"INFO","message":"payment provider: charge approved","order_id":"o-1","charge_id":"ch_o1"}"#,
            r#"   process-payment | {"level":"INFO","message":"payment provider: charge approved","order_id":"o-2","charge_id":"ch_x"}"#,
            r#"   process-payment | {"level":"INFO","message":"payment provider: charge approved","order_id":"o-2","charge_id":"ch_y"}"#,
            "not a log line",
            r#"  send-notification | {"level":"INFO","message":"told ada@example.com"}"#,
        ]
        .join("\n");
        let facts = read_log(&log);
        assert_eq!(
            facts.faults,
            FaultCounts {
                error_before: 1,
                error_after: 1,
                crash: 1,
                delay: 0,
                aws_throttle: 1,
                aws_unavailable: 1,
                duplicate_delivery: 2,
            }
        );
        assert_eq!(facts.faults.total(), 7);
        assert_eq!(facts.charges["o-1"], vec!["ch_o1", "ch_o1"]);
        assert_eq!(facts.charges["o-2"].len(), 2);
        assert_eq!(facts.sensitive_lines, 1);
    }

    #[test]
    fn the_providers_table_adds_the_charges_its_log_did_not_show() {
        let mut facts = LogFacts {
            charges: HashMap::from([("o-1".to_owned(), vec!["ch_1".to_owned()])]),
            ..LogFacts::default()
        };
        assert_eq!(facts.double_charged(), 0);
        facts.add_provider_records(vec![
            ("o-1".to_owned(), "ch_1".to_owned()),
            ("o-2".to_owned(), "ch_2".to_owned()),
        ]);
        assert_eq!(
            facts.charges["o-1"],
            vec!["ch_1"],
            "a charge both showed counts once"
        );
        assert_eq!(facts.double_charged(), 0);
        facts.add_provider_records(vec![("o-1".to_owned(), "ch_3".to_owned())]);
        assert_eq!(
            facts.double_charged(),
            1,
            "a second charge id only the table has"
        );
    }

    #[test]
    fn the_provider_check_catches_a_charge_without_a_confirmed_order_and_the_reverse() {
        let [o1, o2, o3] = [OrderId::new(), OrderId::new(), OrderId::new()];
        let statuses = BTreeMap::from([
            (o1.clone(), Seen::Status(OrderStatus::Confirmed)),
            (o2.clone(), Seen::Status(OrderStatus::Cancelled)),
            (o3, Seen::Status(OrderStatus::Confirmed)),
        ]);
        let facts = LogFacts {
            charges: HashMap::from([
                (o1.to_string(), vec!["ch_1".to_owned()]),
                (o2.to_string(), vec!["ch_2".to_owned()]),
            ]),
            ..LogFacts::default()
        };
        // o-2 charged but cancelled; o-3 confirmed but never charged.
        assert_eq!(provider_mismatches(&statuses, &facts), 2);
    }
}
