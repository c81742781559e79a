//! Logging set-up, called once at the start of `main`.
//!
//! JSON lines when Lambda's advanced logging asks for them (`AWS_LAMBDA_LOG_FORMAT=JSON`),
//! compact text otherwise. Spans carry the request id (set by the runtime) and each record's
//! `correlation_id`, and both formats print the fields of every enclosing span, so every line
//! written while handling an event names the event's order and message.

use tracing_subscriber::EnvFilter;

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
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_target(false)
        .with_ansi(false);
    let _ = if json_requested() {
        builder
            .json()
            .with_current_span(false)
            .with_span_list(true)
            .flatten_event(true)
            .without_time()
            .try_init()
    } else {
        builder.compact().without_time().try_init()
    };
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
