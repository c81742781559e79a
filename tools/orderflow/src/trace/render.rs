//! The timeline as text: one line per entry, time from the first entry, function, what
//! happened, its duration and its reason.

use std::fmt::Write;

use super::record::{DeliveryOutcome, InvocationOutcome};
use super::{Entry, Timeline, What};

pub fn text(timeline: &Timeline) -> String {
    let mut out = format!("order {}\n", timeline.order_id);
    let _ = writeln!(out, "trace {}", timeline.trace_ids.join(", "));
    let Some(first) = timeline.entries.first().map(|e| e.at) else {
        return out;
    };
    for e in &timeline.entries {
        let offset = (e.at - first).num_milliseconds();
        let duration = e
            .duration_ms
            .map(|d| format!(" {d} ms"))
            .unwrap_or_default();
        let reason = e
            .reason
            .as_deref()
            .map(|r| format!("  reason: {r}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{:>+9} ms  {:<18} {}{duration}{reason}",
            offset,
            e.function,
            what(e)
        );
    }
    out
}

fn what(e: &Entry) -> String {
    match &e.what {
        What::Delivery {
            queue,
            event_type,
            receive_count,
            outcome,
            ..
        } => format!(
            "delivery #{receive_count} of {} from {queue}: {}",
            event_type.as_deref().unwrap_or("a message"),
            match outcome {
                DeliveryOutcome::Processed => "processed",
                DeliveryOutcome::Failed => "FAILED, left for a retry",
                DeliveryOutcome::Duplicated => "processed, delivered again (injected)",
            }
        ),
        What::Invocation {
            request_id,
            outcome,
        } => format!(
            "invocation {request_id}: {}",
            match outcome {
                InvocationOutcome::Ok => "ok",
                InvocationOutcome::Error => "ERROR",
                InvocationOutcome::Timeout => "TIMED OUT",
                InvocationOutcome::Crashed => "CRASHED",
            }
        ),
        What::Fault { fault } => format!("  injected fault {fault}"),
        What::AwsCall {
            service,
            operation,
            attempts,
        } if *attempts > 1 => format!("  {service} {operation} ({attempts} attempts)"),
        What::AwsCall {
            service, operation, ..
        } => format!("  {service} {operation}"),
        What::Record {
            receive_count,
            failed,
            ..
        } => format!(
            "  record (receive {}) {}",
            receive_count.map_or("?".to_owned(), |c| c.to_string()),
            if *failed { "failed" } else { "processed" }
        ),
        What::Log { message } => format!("  {message}"),
    }
}
