//! Publishes domain events to an EventBridge bus with `PutEvents`, checking the result entry by
//! entry: `PutEvents` answers 200 even when some entries were refused (DESIGN §6).

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_eventbridge::error::DisplayErrorContext;
use aws_sdk_eventbridge::types::{PutEventsRequestEntry, PutEventsResultEntry};
use aws_sdk_eventbridge::Client;

use crate::events::{Envelope, EVENT_SOURCE};
use crate::ports::{EventPublisher, PublishError};

/// `PutEvents` takes at most this many entries per call.
pub const MAX_ENTRIES_PER_CALL: usize = 10;
/// ...and at most this many bytes of entries per call.
const MAX_BYTES_PER_CALL: usize = 256 * 1024;

/// Entry error codes that a retry cannot fix.
const PERMANENT_ERRORS: &[&str] = &[
    "MalformedDetail",
    "InvalidArgument",
    "AccessDeniedException",
    "NotAuthorizedForSourceException",
    "NotAuthorizedForDetailTypeException",
];

/// How failed entries are retried (the SDK already retries whole failed calls).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryRetry {
    /// Calls per entry, the first included.
    pub max_attempts: u32,
    /// Pause before the second attempt; doubled before each later one.
    pub base_delay: Duration,
}

impl Default for EntryRetry {
    fn default() -> Self {
        EntryRetry {
            max_attempts: 3,
            base_delay: Duration::from_millis(100),
        }
    }
}

#[derive(Debug, Clone)]
pub struct EventBridgePublisher {
    client: Client,
    bus_name: String,
    retry: EntryRetry,
}

/// Why one entry was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
struct EntryFailure {
    code: String,
    message: String,
}

impl EventBridgePublisher {
    pub fn new(client: Client, bus_name: impl Into<String>) -> Self {
        EventBridgePublisher {
            client,
            bus_name: bus_name.into(),
            retry: EntryRetry::default(),
        }
    }

    pub fn with_retry(mut self, retry: EntryRetry) -> Self {
        self.retry = retry;
        self
    }

    fn entry(&self, envelope: &Envelope) -> Result<PutEventsRequestEntry, String> {
        request_entry(&self.bus_name, envelope)
    }

    /// Sends one call's worth of entries, then again only those that failed for a reason a
    /// retry can fix. Returns the entries that were never accepted.
    async fn put_chunk(
        &self,
        chunk: Vec<PutEventsRequestEntry>,
    ) -> Result<Vec<EntryFailure>, PublishError> {
        let mut pending = chunk;
        let mut failures = Vec::new();
        let mut attempt = 1;
        loop {
            let out = self
                .client
                .put_events()
                .set_entries(Some(pending.clone()))
                .send()
                .await
                .map_err(|e| {
                    PublishError::Unavailable(format!(
                        "EventBridge PutEvents to bus {}: {}",
                        self.bus_name,
                        DisplayErrorContext(&e)
                    ))
                })?;
            if out.failed_entry_count() == 0 {
                return Ok(failures);
            }
            let (permanent, retry) = sort_failures(pending, out.entries());
            failures.extend(permanent);
            if retry.is_empty() || attempt >= self.retry.max_attempts {
                failures.extend(retry.into_iter().map(|(_, f)| f));
                return Ok(failures);
            }
            let delay = self
                .retry
                .base_delay
                .saturating_mul(1 << (attempt - 1).min(10));
            tracing::warn!(
                failed = retry.len(),
                attempt,
                first_error = %retry[0].1.code,
                "EventBridge refused some entries; retrying only those"
            );
            tokio::time::sleep(delay).await;
            attempt += 1;
            pending = retry.into_iter().map(|(entry, _)| entry).collect();
        }
    }
}

/// The entry of one event. Its trace goes in X-Ray's header too (`TraceHeader`), which
/// EventBridge passes to an SQS target as the message's `AWSTraceHeader`, so X-Ray links the
/// publisher's trace to the consumer's; the envelope keeps the W3C spelling for ourselves.
fn request_entry(bus_name: &str, envelope: &Envelope) -> Result<PutEventsRequestEntry, String> {
    let detail = envelope.to_json().map_err(|e| {
        format!(
            "event {} cannot be serialised: {e}",
            envelope.metadata.event_id
        )
    })?;
    Ok(PutEventsRequestEntry::builder()
        .event_bus_name(bus_name)
        .source(EVENT_SOURCE)
        .detail_type(envelope.metadata.event_type.as_str())
        .detail(detail)
        .set_trace_header(envelope.trace().map(|t| t.to_xray_header()))
        .build())
}

/// The entries a `PutEvents` refused, paired with their results (in request order, one per
/// request entry): those a retry cannot fix, and those to send again with why they failed.
fn sort_failures(
    sent: Vec<PutEventsRequestEntry>,
    results: &[PutEventsResultEntry],
) -> (
    Vec<EntryFailure>,
    Vec<(PutEventsRequestEntry, EntryFailure)>,
) {
    let mut permanent = Vec::new();
    let mut retry = Vec::new();
    for (i, entry) in sent.into_iter().enumerate() {
        let failure = match results.get(i) {
            Some(r) => match r.error_code() {
                None => continue,
                Some(code) => EntryFailure {
                    code: code.to_owned(),
                    message: r.error_message().unwrap_or_default().to_owned(),
                },
            },
            None => EntryFailure {
                code: "MissingResultEntry".into(),
                message: "PutEvents returned fewer result entries than it was sent".into(),
            },
        };
        if PERMANENT_ERRORS.contains(&failure.code.as_str()) {
            permanent.push(failure);
        } else {
            retry.push((entry, failure));
        }
    }
    (permanent, retry)
}

/// Splits entries into calls of at most 10 entries and 256 KiB.
fn chunks(entries: Vec<PutEventsRequestEntry>) -> Vec<Vec<PutEventsRequestEntry>> {
    let mut out: Vec<Vec<PutEventsRequestEntry>> = Vec::new();
    let mut current = Vec::new();
    let mut bytes = 0;
    for entry in entries {
        let size = entry_size(&entry);
        if !current.is_empty()
            && (current.len() == MAX_ENTRIES_PER_CALL || bytes + size > MAX_BYTES_PER_CALL)
        {
            out.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += size;
        current.push(entry);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// The size EventBridge counts for an entry (source, detail type, detail, and a 14-byte time).
fn entry_size(entry: &PutEventsRequestEntry) -> usize {
    14 + entry.source().map_or(0, str::len)
        + entry.detail_type().map_or(0, str::len)
        + entry.detail().map_or(0, str::len)
}

/// "2 × InternalFailure (first: ...), 1 × ThrottlingException (...)"
fn summarise(failures: &[EntryFailure]) -> String {
    let mut by_code: BTreeMap<&str, (usize, &str)> = BTreeMap::new();
    for f in failures {
        by_code.entry(&f.code).or_insert((0, &f.message)).0 += 1;
    }
    by_code
        .into_iter()
        .map(|(code, (count, message))| {
            if message.is_empty() {
                format!("{count} × {code}")
            } else {
                format!("{count} × {code} ({message})")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[async_trait]
impl EventPublisher for EventBridgePublisher {
    async fn publish(&self, events: &[Envelope]) -> Result<(), PublishError> {
        let total = events.len();
        let entries = events
            .iter()
            .map(|e| self.entry(e))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|reason| PublishError::Rejected {
                failed: total,
                total,
                reason,
            })?;
        let mut failures = Vec::new();
        for chunk in chunks(entries) {
            failures.extend(self.put_chunk(chunk).await?);
        }
        if failures.is_empty() {
            return Ok(());
        }
        Err(PublishError::Rejected {
            failed: failures.len(),
            total,
            reason: summarise(&failures),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(detail_len: usize) -> PutEventsRequestEntry {
        PutEventsRequestEntry::builder()
            .source("orderflow")
            .detail_type("OrderPlaced")
            .detail("x".repeat(detail_len))
            .build()
    }

    #[test]
    fn entries_are_split_into_calls_of_at_most_ten() {
        let sizes: Vec<usize> = chunks((0..23).map(|_| entry(10)).collect())
            .iter()
            .map(Vec::len)
            .collect();
        assert_eq!(sizes, vec![10, 10, 3]);
        assert!(chunks(Vec::new()).is_empty());
    }

    #[test]
    fn entries_are_split_before_a_call_would_pass_256_kib() {
        let sizes: Vec<usize> = chunks((0..4).map(|_| entry(100 * 1024)).collect())
            .iter()
            .map(Vec::len)
            .collect();
        assert_eq!(sizes, vec![2, 2]);
    }

    #[test]
    fn an_entry_carries_the_event_s_trace_in_x_ray_s_header() {
        use crate::domain::{Currency, CustomerId, Email, Money, OrderId};
        use crate::events::{DomainEvent, PaymentFailed, TraceContext};
        let event = DomainEvent::PaymentFailed(PaymentFailed {
            order_id: OrderId::new(),
            customer_id: CustomerId::parse("cust-1").unwrap(),
            email: Email::parse("a@example.com").unwrap(),
            total: Money::new(100, Currency::EUR),
            reason: "declined".into(),
        });
        let trace = TraceContext::new_root();
        let envelope = Envelope::new(event, None).in_trace(&trace);
        let entry = request_entry("bus", &envelope).unwrap();
        let header = entry.trace_header().unwrap();
        let read = TraceContext::from_xray_header(header).unwrap();
        assert_eq!(read.trace_id(), trace.trace_id());
        assert_eq!(Some(&read), envelope.trace());
        assert_eq!(entry.event_bus_name(), Some("bus"));
    }

    #[test]
    fn failures_are_summarised_by_error_code() {
        let f = |code: &str, message: &str| EntryFailure {
            code: code.into(),
            message: message.into(),
        };
        assert_eq!(
            summarise(&[
                f("ThrottlingException", ""),
                f("InternalFailure", "try again"),
                f("InternalFailure", "other"),
            ]),
            "2 × InternalFailure (try again), 1 × ThrottlingException"
        );
    }
}
