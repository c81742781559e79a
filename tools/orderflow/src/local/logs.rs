//! One log stream for the whole local cloud: every function's lines, prefixed with its name,
//! interleaved on stdout. Lines that explain why a queue message failed are also remembered
//! (message id → reason) and appended to `<state dir>/failure-reasons.jsonl`, which
//! `orderflow dlq list` reads to show why a message ended in a DLQ. Every JSON line a function
//! writes, and what the runtime and the event source mappings record, go to
//! `<state dir>/trace.jsonl` for `orderflow trace` ([`crate::trace::record`]). The functions'
//! EMF metric lines go to the metrics store instead (`local::metrics`), not to the
//! interleaved log.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::metrics::MetricsStore;
use crate::trace::record::{TraceRecord, TRACE_FILE};

pub const REASONS_FILE: &str = "failure-reasons.jsonl";

#[derive(Clone)]
pub struct LogSink {
    inner: Arc<Inner>,
}

struct Inner {
    /// Where lines go: stdout, or a file (when stdout carries something else, e.g. a JSON report).
    out: Mutex<Box<dyn Write + Send>>,
    reasons: Mutex<HashMap<String, String>>,
    reasons_file: Option<PathBuf>,
    metrics: MetricsStore,
    /// `<state dir>/trace.jsonl`, appended to; `None` without a state dir (or if it cannot be
    /// opened: the trace is an aid, the cloud runs without it).
    trace: Mutex<Option<std::fs::File>>,
}

#[derive(serde::Serialize, serde::Deserialize)]
pub struct ReasonRecord {
    #[serde(rename = "messageId")]
    pub message_id: String,
    pub function: String,
    pub reason: String,
    pub at: String,
}

impl LogSink {
    /// Lines to stdout.
    pub fn new(state_dir: Option<PathBuf>) -> Self {
        LogSink::writing_to(Box::new(std::io::stdout()), state_dir)
    }

    /// Lines to `path` (created or truncated) instead of stdout.
    pub fn to_file(path: &std::path::Path, state_dir: Option<PathBuf>) -> std::io::Result<Self> {
        let file = std::fs::File::create(path)?;
        Ok(LogSink::writing_to(
            Box::new(std::io::LineWriter::new(file)),
            state_dir,
        ))
    }

    fn writing_to(out: Box<dyn Write + Send>, state_dir: Option<PathBuf>) -> Self {
        let trace = state_dir.as_ref().and_then(|d| {
            // The sink may be made before the cloud makes its state dir.
            std::fs::create_dir_all(d).ok()?;
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(d.join(TRACE_FILE))
                .ok()
        });
        LogSink {
            inner: Arc::new(Inner {
                out: Mutex::new(out),
                reasons: Mutex::new(HashMap::new()),
                metrics: MetricsStore::new(state_dir.as_deref()),
                reasons_file: state_dir.map(|d| d.join(REASONS_FILE)),
                trace: Mutex::new(trace),
            }),
        }
    }

    /// Appends one record to the trace file (one write per line, so readers never see half).
    pub fn record(&self, record: &TraceRecord) {
        let mut trace = self.inner.trace.lock().unwrap_or_else(|p| p.into_inner());
        if let (Some(file), Ok(mut line)) = (trace.as_mut(), serde_json::to_string(record)) {
            line.push('\n');
            let _ = file.write_all(line.as_bytes());
        }
    }

    /// A line of the local cloud itself, about `who`.
    pub fn line(&self, who: &str, text: &str) {
        let mut out = self.inner.out.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(out, "{who:>18} | {text}");
        let _ = out.flush();
    }

    /// The functions' metrics so far.
    pub fn metrics(&self) -> &MetricsStore {
        &self.inner.metrics
    }

    /// A line a function process wrote. A JSON line is parsed once, for the metrics store, the
    /// failure reasons and the trace.
    pub fn function_line(&self, function: &str, text: &str) {
        let parsed = serde_json::from_str::<serde_json::Value>(text).ok();
        if let Some(line @ serde_json::Value::Object(_)) = parsed {
            if self.inner.metrics.record_parsed(text, &line) {
                return;
            }
            if let Some((message_id, reason)) = reason_of(&line) {
                self.remember(function, &message_id, &reason);
            }
            self.record(&TraceRecord::Log {
                at: chrono::Utc::now(),
                function: function.base_name().to_owned(),
                line,
            });
        }
        self.line(function, text);
    }

    /// Records why a message failed (also used for whole-batch function errors).
    pub fn remember(&self, function: &str, message_id: &str, reason: &str) {
        self.inner
            .reasons
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(message_id.to_owned(), reason.to_owned());
        if let Some(path) = &self.inner.reasons_file {
            let record = ReasonRecord {
                message_id: message_id.to_owned(),
                function: function.base_name().to_owned(),
                reason: reason.to_owned(),
                at: chrono::Utc::now().to_rfc3339(),
            };
            if let Ok(line) = serde_json::to_string(&record) {
                if let Ok(mut f) = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                {
                    let _ = writeln!(f, "{line}");
                }
            }
        }
    }
}

trait BaseName {
    fn base_name(&self) -> &str;
}

impl BaseName for str {
    /// `update-inventory#1` → `update-inventory`.
    fn base_name(&self) -> &str {
        self.split('#').next().unwrap_or(self)
    }
}

/// `(message_id, reason)` from a JSON log line of a failed record: an ERROR or WARN line with a
/// `reason` field, inside a span that carries `message_id` (see `shared::sqs_batch`).
pub fn failure_reason(line: &str) -> Option<(String, String)> {
    reason_of(&serde_json::from_str(line).ok()?)
}

/// [`failure_reason`] of a parsed line.
fn reason_of(v: &serde_json::Value) -> Option<(String, String)> {
    use orderflow_shared::telemetry::messages::{MESSAGE_ID, REASON};
    let level = v.get("level")?.as_str()?;
    if level != "ERROR" && level != "WARN" {
        return None;
    }
    let reason = v.get(REASON)?.as_str()?.to_owned();
    let message_id = v
        .get("spans")?
        .as_array()?
        .iter()
        .find_map(|s| s.get(MESSAGE_ID).and_then(|m| m.as_str()))?
        .to_owned();
    Some((message_id, reason))
}

/// Reads every recorded reason (the last one per message wins).
pub fn read_reasons(state_dir: &std::path::Path) -> HashMap<String, ReasonRecord> {
    let mut out = HashMap::new();
    if let Ok(text) = std::fs::read_to_string(state_dir.join(REASONS_FILE)) {
        for line in text.lines() {
            if let Ok(r) = serde_json::from_str::<ReasonRecord>(line) {
                out.insert(r.message_id.clone(), r);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_record_line_yields_its_message_id_and_reason() {
        let line = r#"{"level":"ERROR","reason":"permanent: unknown event type","message":"record failed permanently","spans":[{"name":"Lambda runtime invoke","requestId":"r"},{"name":"record","message_id":"m-7"}]}"#;
        assert_eq!(
            failure_reason(line),
            Some(("m-7".into(), "permanent: unknown event type".into()))
        );
    }

    #[test]
    fn ordinary_and_non_json_lines_yield_nothing() {
        assert_eq!(
            failure_reason(r#"{"level":"INFO","reason":"x","spans":[{"message_id":"m"}]}"#),
            None
        );
        assert_eq!(failure_reason("plain text"), None);
        assert_eq!(
            failure_reason(r#"{"level":"ERROR","message":"no reason"}"#),
            None
        );
    }

    #[test]
    fn remembered_reasons_are_written_and_read_back() {
        let dir = std::env::temp_dir().join(format!("orderflow-logs-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let sink = LogSink::new(Some(dir.clone()));
        sink.remember("update-inventory#1", "m-1", "first");
        sink.remember("update-inventory", "m-1", "second");
        let read = read_reasons(&dir);
        assert_eq!(read["m-1"].reason, "second");
        assert_eq!(read["m-1"].function, "update-inventory");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_function_s_json_lines_are_recorded_for_the_trace_and_its_text_lines_are_not() {
        let dir = std::env::temp_dir().join(format!("orderflow-logs-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let sink = LogSink::to_file(&dir.join("log"), Some(dir.clone())).unwrap();
        sink.function_line(
            "process-payment#2",
            r#"{"level":"INFO","message":"record processed"}"#,
        );
        sink.function_line("process-payment#2", "plain text");
        let records = crate::trace::record::read(&dir).unwrap();
        assert_eq!(records.len(), 1, "{records:?}");
        let TraceRecord::Log { function, line, .. } = &records[0] else {
            panic!("{records:?}");
        };
        assert_eq!(function, "process-payment");
        assert_eq!(line["message"], "record processed");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
