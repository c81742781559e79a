//! The trace context an event carries, so one order's spans join up across EventBridge and
//! SQS: W3C `traceparent` in the envelope (it survives the archive, a replay and a DLQ redrive,
//! which drop X-Ray's header) and the same trace in X-Ray's header on the AWS wire (`PutEvents`'
//! `TraceHeader`, which EventBridge hands to an SQS target as `AWSTraceHeader`). One 128-bit
//! trace id, two spellings: `4bf92f35…` in W3C is `1-4bf92f35-…` in X-Ray.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// A trace id (32 lowercase hex digits), the id of the span that published (16), and whether
/// the trace is sampled.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TraceContext {
    trace_id: String,
    parent_id: String,
    sampled: bool,
}

impl TraceContext {
    /// A new trace. Its first 8 hex digits are the epoch seconds, as X-Ray requires of a trace
    /// id it accepts; the rest is random.
    pub fn new_root() -> TraceContext {
        let seconds = u32::try_from(chrono::Utc::now().timestamp()).unwrap_or(u32::MAX);
        let random = Uuid::new_v4().simple().to_string();
        TraceContext {
            trace_id: format!("{seconds:08x}{}", &random[..24]),
            parent_id: new_span_id(),
            sampled: true,
        }
    }

    /// The context a span of this trace passes on: same trace, a new span id.
    pub fn child(&self) -> TraceContext {
        TraceContext {
            trace_id: self.trace_id.clone(),
            parent_id: new_span_id(),
            sampled: self.sampled,
        }
    }

    /// The 32-hex-digit trace id (W3C spelling): what logs and the local timeline show.
    pub fn trace_id(&self) -> &str {
        &self.trace_id
    }

    /// The id of the span this context was passed on from.
    pub fn parent_id(&self) -> &str {
        &self.parent_id
    }

    /// `00-<trace id>-<parent id>-<01|00>`; `None` for anything else (an invalid header starts
    /// a new trace rather than failing the event, as the W3C recommendation says).
    pub fn from_traceparent(header: &str) -> Option<TraceContext> {
        let mut parts = header.trim().split('-');
        let (version, trace_id, parent_id, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let valid = version == "00"
            && parts.next().is_none()
            && is_hex_id(trace_id, 32)
            && is_hex_id(parent_id, 16)
            && flags.len() == 2
            && u8::from_str_radix(flags, 16).is_ok();
        valid.then(|| TraceContext {
            trace_id: trace_id.to_owned(),
            parent_id: parent_id.to_owned(),
            sampled: u8::from_str_radix(flags, 16).is_ok_and(|f| f & 1 == 1),
        })
    }

    pub fn to_traceparent(&self) -> String {
        let flags = if self.sampled { "01" } else { "00" };
        format!("00-{}-{}-{flags}", self.trace_id, self.parent_id)
    }

    /// X-Ray's header (`Root=1-<8>-<24>;Parent=<16>;Sampled=<0|1>`, any order, other keys
    /// ignored), as Lambda gives an invocation and SQS a message (`AWSTraceHeader`). Without a
    /// `Parent` the span id is new; without `Sampled`, sampled.
    pub fn from_xray_header(header: &str) -> Option<TraceContext> {
        let mut root = None;
        let mut parent = None;
        let mut sampled = true;
        for part in header.split(';') {
            match part.trim().split_once('=') {
                Some(("Root", value)) => root = Some(value),
                Some(("Parent", value)) => parent = Some(value),
                Some(("Sampled", value)) => sampled = value != "0",
                _ => {}
            }
        }
        let mut root_parts = root?.split('-');
        let (one, time, random) = (root_parts.next()?, root_parts.next()?, root_parts.next()?);
        if one != "1"
            || root_parts.next().is_some()
            || !is_hex_id(time, 8)
            || !is_hex_id(random, 24)
        {
            return None;
        }
        let parent_id = match parent {
            Some(p) if is_hex_id(p, 16) => p.to_owned(),
            Some(_) => return None,
            None => new_span_id(),
        };
        Some(TraceContext {
            trace_id: format!("{time}{random}"),
            parent_id,
            sampled,
        })
    }

    pub fn to_xray_header(&self) -> String {
        let (time, random) = self.trace_id.split_at(8);
        let sampled = if self.sampled { 1 } else { 0 };
        format!(
            "Root=1-{time}-{random};Parent={};Sampled={sampled}",
            self.parent_id
        )
    }
}

impl fmt::Display for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_traceparent())
    }
}

/// 16 random hex digits, never all zero (W3C: an all-zero id is invalid).
fn new_span_id() -> String {
    let random = Uuid::new_v4().simple().to_string();
    let id = &random[..16];
    if id.bytes().all(|b| b == b'0') {
        "0000000000000001".to_owned()
    } else {
        id.to_owned()
    }
}

/// `len` lowercase hex digits, not all zero.
fn is_hex_id(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && s.bytes().any(|b| b != b'0')
}

/// The envelope's `traceparent`: written as the W3C header.
pub(super) fn serialize<S: Serializer>(
    trace: &Option<TraceContext>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match trace {
        Some(t) => t.to_traceparent().serialize(serializer),
        None => serializer.serialize_none(),
    }
}

/// Read leniently: a missing or invalid `traceparent` is `None` (the consumer starts a new
/// trace), never a reason to refuse the event.
pub(super) fn deserialize<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<TraceContext>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(deserializer)?;
    Ok(value
        .as_ref()
        .and_then(serde_json::Value::as_str)
        .and_then(TraceContext::from_traceparent))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const XRAY: &str = "Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=1";

    #[test]
    fn a_traceparent_is_read_and_written_back_unchanged() {
        let trace = TraceContext::from_traceparent(TRACEPARENT).unwrap();
        assert_eq!(trace.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(trace.parent_id(), "00f067aa0ba902b7");
        assert_eq!(trace.to_traceparent(), TRACEPARENT);
    }

    #[test]
    fn the_same_trace_is_spelt_in_x_ray_s_header_and_read_back() {
        let trace = TraceContext::from_traceparent(TRACEPARENT).unwrap();
        assert_eq!(trace.to_xray_header(), XRAY);
        assert_eq!(TraceContext::from_xray_header(XRAY), Some(trace));
    }

    #[test]
    fn an_x_ray_header_as_lambda_gives_it_is_read_in_any_order_and_without_a_parent() {
        let lambda = "Sampled=0;Lineage=a:1;Root=1-5759e988-bd862e3fe1be46a994272793";
        let trace = TraceContext::from_xray_header(lambda).unwrap();
        assert_eq!(trace.trace_id(), "5759e988bd862e3fe1be46a994272793");
        assert!(trace.to_traceparent().ends_with("-00"));
        assert!(is_hex_id(trace.parent_id(), 16));
    }

    #[test]
    fn invalid_headers_are_refused() {
        for bad in [
            "",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-zz",
            "00-4bf92f35-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceContext::from_traceparent(bad), None, "{bad:?}");
        }
        for bad in [
            "Parent=00f067aa0ba902b7",
            "Root=2-4bf92f35-77b34da6a3ce929d0e0e4736",
            "Root=1-4bf92f35-77b34da6",
            "Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=xyz",
        ] {
            assert_eq!(TraceContext::from_xray_header(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_new_trace_is_valid_in_both_spellings_and_starts_with_the_time() {
        let trace = TraceContext::new_root();
        assert_eq!(
            TraceContext::from_traceparent(&trace.to_traceparent()),
            Some(trace.clone())
        );
        assert_eq!(
            TraceContext::from_xray_header(&trace.to_xray_header()),
            Some(trace.clone())
        );
        let seconds = u32::from_str_radix(&trace.trace_id()[..8], 16).unwrap();
        let now = u32::try_from(chrono::Utc::now().timestamp()).unwrap();
        assert!(now - seconds < 5, "{seconds} vs {now}");
    }

    #[test]
    fn a_child_keeps_the_trace_and_takes_a_new_span_id() {
        let parent = TraceContext::new_root();
        let child = parent.child();
        assert_eq!(child.trace_id(), parent.trace_id());
        assert_ne!(child.parent_id(), parent.parent_id());
        assert_ne!(TraceContext::new_root().trace_id(), parent.trace_id());
    }
}
