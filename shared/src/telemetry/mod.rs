//! Logging set-up, called once at the start of `main`.
//!
//! JSON lines when Lambda's advanced logging asks for them (`AWS_LAMBDA_LOG_FORMAT=JSON`),
//! compact text otherwise. Spans carry the request id (set by the runtime) and each record's
//! `correlation_id`, and both formats print the fields of every enclosing span, so every line
//! written while handling an event names the event's order and message.
//!
//! [`messages`] holds the log messages and field names the tools read back; the scan for
//! sensitive data in captured logs ([`find_sensitive`]) is test and tool code (`testing`).

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

pub mod messages;
pub mod metrics;
#[cfg(any(test, feature = "testing"))]
mod sensitive;
#[cfg(any(test, feature = "testing"))]
pub use sensitive::{find_sensitive, Sensitive};

/// The filter: `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else `info`.
fn filter() -> EnvFilter {
    let directive = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_owned());
    EnvFilter::try_new(directive.to_lowercase()).unwrap_or_else(|_| EnvFilter::new("info"))
}

pub fn json_requested() -> bool {
    std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"))
}

/// Installs the global subscriber. Safe to call twice (the second call does nothing).
pub fn init() {
    if json_requested() {
        let _ = tracing::subscriber::set_global_default(json_subscriber(filter(), std::io::stdout));
    } else {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter())
            .with_target(false)
            .with_ansi(false)
            .compact()
            .without_time()
            .try_init();
    }
}

/// The JSON lines Lambda's advanced logging gets: every event flattened into one object, with
/// the fields of each enclosing span in `spans`. The tools read these lines back.
pub(crate) fn json_subscriber<W>(
    filter: EnvFilter,
    writer: W,
) -> impl tracing::Subscriber + Send + Sync + 'static
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(false)
        .json()
        .with_current_span(false)
        .with_span_list(true)
        .flatten_event(true)
        .without_time()
        .with_writer(writer)
        .finish()
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn json_lines_carry_the_fields_of_the_enclosing_spans() {
        let capture = Capture::default();
        let writer = capture.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_span_list(true)
            .with_current_span(false)
            .flatten_event(true)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("record", message_id = "m-1", correlation_id = "o-1");
            let _g = span.enter();
            tracing::info!("hello");
        });
        let out = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
        let line: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(line["spans"][0]["correlation_id"], "o-1");
        assert_eq!(line["spans"][0]["message_id"], "m-1");
        assert_eq!(line["message"], "hello");
    }
}
