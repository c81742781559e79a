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

/// What a log line must never carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sensitive {
    Email,
    PaymentToken,
}

/// The first e-mail address or payment token (`tok_…`) in `line`, if any: the scan the
/// end-to-end tests and `orderflow chaos` run over every captured log line.
pub fn find_sensitive(line: &str) -> Option<(Sensitive, String)> {
    let bytes = line.as_bytes();
    let token_char = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_';
    let mut from = 0;
    while let Some(at) = line[from..].find("tok_").map(|i| i + from) {
        let starts_word = at == 0 || !bytes[at - 1].is_ascii_alphanumeric();
        let end = at
            + 4
            + bytes[at + 4..]
                .iter()
                .take_while(|b| token_char(**b))
                .count();
        if starts_word && end > at + 4 {
            return Some((Sensitive::PaymentToken, line[at..end].to_owned()));
        }
        from = at + 4;
    }
    let local_char = |b: u8| b.is_ascii_alphanumeric() || b"._%+-".contains(&b);
    let domain_char = |b: u8| b.is_ascii_alphanumeric() || b == b'.' || b == b'-';
    for (at, _) in line.match_indices('@') {
        let start = at
            - bytes[..at]
                .iter()
                .rev()
                .take_while(|b| local_char(**b))
                .count();
        let end = at
            + 1
            + bytes[at + 1..]
                .iter()
                .take_while(|b| domain_char(**b))
                .count();
        let domain = line[at + 1..end].trim_end_matches('.');
        let has_tld = domain.rsplit_once('.').is_some_and(|(host, tld)| {
            !host.is_empty() && tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic())
        });
        if start < at && has_tld {
            return Some((
                Sensitive::Email,
                line[start..at + 1 + domain.len()].to_owned(),
            ));
        }
    }
    None
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

    use super::{find_sensitive, Sensitive};

    #[test]
    fn the_scan_finds_an_email_or_a_payment_token_anywhere_in_a_line() {
        assert_eq!(
            find_sensitive(r#"{"message":"sent","to":"ada@example.com"}"#),
            Some((Sensitive::Email, "ada@example.com".into()))
        );
        assert_eq!(
            find_sensitive("charging tok_visa_4242 now"),
            Some((Sensitive::PaymentToken, "tok_visa_4242".into()))
        );
        assert_eq!(
            find_sensitive(r#"token="tok_declined""#),
            Some((Sensitive::PaymentToken, "tok_declined".into()))
        );
    }

    #[test]
    fn the_scan_leaves_redacted_values_rules_and_arns_alone() {
        for clean in [
            r#"{"email":"Email(<redacted>)","token":"PaymentToken(<redacted>)"}"#,
            "paymentToken must match ^tok_[a-z0-9_]{1,64}$",
            "arn:aws:sqs:us-east-1:123456789012:orderflow-local-InventoryQueue",
            "user@localhost has no domain",
            "a stock_level field",
            "",
        ] {
            assert_eq!(find_sensitive(clean), None, "{clean}");
        }
    }
}
