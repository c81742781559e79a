//! Test code: the EMF lines the metrics calls write, read back. The recorder is the process's
//! global one (the crate installs no other kind), so a capture holds a lock that serialises the
//! tests of one process that read metrics, and starts by discarding what was recorded before.
//! nextest runs every test in its own process; under `cargo test` a test that records metrics
//! without a capture may still add to another's counts.

use std::sync::{Mutex, MutexGuard};

use serde_json::Value;

use super::COLLECTOR;

static LOCK: Mutex<()> = Mutex::new(());
/// While a capture is alive: the lines code under test flushed (instead of stdout).
static KEPT: Mutex<Option<Vec<u8>>> = Mutex::new(None);

/// Flushes into the live capture, if there is one (then `true`).
pub(super) fn keep(collector: &metrics_cloudwatch_embedded::Collector) -> bool {
    let mut kept = KEPT.lock().unwrap_or_else(|p| p.into_inner());
    match kept.as_mut() {
        Some(buffer) => {
            let _ = collector.flush(buffer);
            true
        }
        None => false,
    }
}

/// While alive, the metrics recorded in this process are this capture's.
pub struct Captured {
    _turn: MutexGuard<'static, ()>,
}

/// Installs the recorder (`Function` = `test`) if needed and starts a capture.
pub fn capture() -> Captured {
    let turn = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    super::init("test");
    let captured = Captured { _turn: turn };
    let _ = captured.flush();
    *KEPT.lock().unwrap_or_else(|p| p.into_inner()) = Some(Vec::new());
    captured
}

impl Drop for Captured {
    fn drop(&mut self) {
        *KEPT.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

impl Captured {
    /// The EMF lines flushed by the code under test since the last call, and those of
    /// everything recorded since (this flushes).
    pub fn flush(&self) -> Vec<Value> {
        let mut out = KEPT
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default();
        if let Some(collector) = COLLECTOR.get() {
            let _ = collector.flush(&mut out);
        }
        String::from_utf8_lossy(&out)
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The flushed lines that carry metric `name`.
    pub fn lines(&self, name: &str) -> Vec<Value> {
        self.flush()
            .into_iter()
            .filter(|l| l.get(name).is_some())
            .collect()
    }

    /// Flushes, and adds up metric `name` over the lines whose dimensions include `dims`
    /// (a histogram adds up its values).
    pub fn sum(&self, name: &str, dims: &[(&str, &str)]) -> f64 {
        self.lines(name)
            .iter()
            .filter(|l| dims.iter().all(|(k, v)| l[*k] == *v))
            .map(|l| total(&l[name]))
            .sum()
    }
}

fn total(value: &Value) -> f64 {
    match value {
        Value::Array(values) => values.iter().filter_map(Value::as_f64).sum(),
        other => other.as_f64().unwrap_or(0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::super::dim;
    use super::*;

    #[test]
    fn a_capture_starts_empty_and_sums_only_the_matching_dimensions() {
        metrics::counter!("Before").increment(3);
        let captured = capture();
        assert!(captured.lines("Before").is_empty());
        metrics::counter!("Probe", "Outcome" => "a").increment(2);
        metrics::counter!("Probe", "Outcome" => "b").increment(5);
        let lines = captured.lines("Probe");
        assert_eq!(lines.len(), 2);
        assert!(lines.iter().all(|l| l[dim::FUNCTION] == "test"));
        metrics::counter!("Probe", "Outcome" => "a").increment(2);
        metrics::counter!("Probe", "Outcome" => "b").increment(5);
        assert_eq!(captured.sum("Probe", &[("Outcome", "b")]), 5.0);
    }
}
