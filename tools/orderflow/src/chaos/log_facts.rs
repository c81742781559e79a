//! What the local cloud's log says happened: the faults injected (by the AWS proxy, the event
//! source mappings and the functions), every charge the payment provider approved, and lines
//! that leak an e-mail address or a payment token; and what the moto log says the harsh cloud
//! injected. The run's counts are checked against them.

use std::collections::{BTreeMap, HashMap, HashSet};

use orderflow_shared::domain::{OrderId, OrderStatus};
use orderflow_shared::telemetry::messages::{self, fault};
use serde_json::Value;

use super::report::FaultCounts;
use super::watch::Seen;
use crate::local::messages::{
    AWS_FAULTS, INJECTED_DUPLICATE_DELIVERY, INJECTED_LOST_RESPONSE, INJECTED_THROTTLING,
    INJECTED_UNAVAILABLE,
};

/// The harsh cloud's lines in the moto log: `orderflow-harsh: <kind> <field>=<value> ...`
/// (`infra/moto/harsh/log.py`; its spec lines start `orderflow-harsh-config:`).
const HARSH_PREFIX: &str = "orderflow-harsh: ";

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
            faults.throttle += 1;
        } else if rest.contains(INJECTED_UNAVAILABLE) {
            faults.unavailable += 1;
        } else if rest.contains(INJECTED_LOST_RESPONSE) {
            faults.lost_response += 1;
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
        Some(fault::CRASH_BETWEEN_STEPS) => facts.faults.crash_between_steps += 1,
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

/// Adds what the harsh cloud injected, from the moto log, to `faults`.
pub fn read_moto_log(text: &str, faults: &mut FaultCounts) {
    for line in text.lines() {
        let Some(kind) = line
            .strip_prefix(HARSH_PREFIX)
            .and_then(|rest| rest.split(' ').next())
        else {
            continue;
        };
        match kind {
            "transaction_conflict" => faults.transaction_conflict += 1,
            "throttle" => {
                faults.throttle += 1;
                faults.throttle_by_item_rate += 1;
            }
            "eventbridge_duplicate" => faults.eventbridge_duplicate += 1,
            "eventbridge_delay" => faults.eventbridge_delay += 1,
            _ => {}
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
            r#"        aws-faults | injected fault: lost response (reset) for DynamoDB_20120810.PutItem"#,
            r#"   process-payment | {"level":"ERROR","fault":"crash_between_steps","aws_operation":"TransactWriteItems","message":"injected fault: the process exits after TransactWriteItems answered, before acting on it"}"#,
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
                crash_between_steps: 1,
                throttle: 1,
                unavailable: 1,
                lost_response: 1,
                duplicate_delivery: 2,
                ..FaultCounts::default()
            }
        );
        assert_eq!(facts.faults.totalled().total, 9);
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
    fn the_moto_log_gives_the_harsh_clouds_injected_events_and_nothing_else() {
        let log = [
            "orderflow-harsh-config: installed (conflict_ms=25, item_wcu=20)",
            r#"orderflow-harsh: transaction_conflict op=TransactWriteItems table=t index=0 item={"pk": "SKU-HOT"}"#,
            "orderflow-harsh: throttle op=PutItem table=t wcu=1 item={}",
            r#"orderflow-harsh: throttle op=TransactWriteItems table=t index=1 item={"pk": "x y"}"#,
            "orderflow-harsh: eventbridge_duplicate rule=r target=q event=e copy=2",
            "orderflow-harsh: eventbridge_delay rule=r target=q event=e copy=1 delay_ms=300",
            r#"127.0.0.1 - - "POST / HTTP/1.1" 200 - orderflow-harsh: throttle"#,
            "orderflow-harsh: someday_new_kind x=1",
        ]
        .join("\n");
        let mut faults = FaultCounts {
            throttle: 3,
            ..FaultCounts::default()
        };
        read_moto_log(&log, &mut faults);
        assert_eq!(
            faults,
            FaultCounts {
                throttle: 5,
                throttle_by_item_rate: 2,
                transaction_conflict: 1,
                eventbridge_duplicate: 1,
                eventbridge_delay: 1,
                ..FaultCounts::default()
            }
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
