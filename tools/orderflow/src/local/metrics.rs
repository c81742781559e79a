//! The functions' metrics, as the local cloud keeps them: every EMF line a function writes
//! (`shared::telemetry::metrics`) is added to an in-process store and appended to
//! `<state dir>/metrics.jsonl`, which other processes (`orderflow chaos`, `orderflow load`, the
//! tests) read back with [`read`]. [`summary`] is the live line `local up` prints.

// Metric values are floats in EMF; the workspace lint is about money.
#![allow(clippy::float_arithmetic)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use orderflow_shared::telemetry::metrics::{dim, name};
use serde::Serialize;
use serde_json::Value;

pub const METRICS_FILE: &str = "metrics.jsonl";

/// One metric under one set of dimension values, added up over every line that carried it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Series {
    pub name: String,
    pub dimensions: BTreeMap<String, String>,
    /// Sum of the values (a count's total; a histogram's sum).
    pub sum: f64,
    /// How many values (a histogram's sample count).
    pub samples: u64,
    pub max: f64,
}

/// Every series seen, keyed by name and dimensions.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Totals {
    pub series: BTreeMap<String, Series>,
}

impl Totals {
    /// Reads EMF lines (any other line is skipped).
    pub fn from_lines(text: &str) -> Totals {
        let mut totals = Totals::default();
        for line in text.lines() {
            totals.add_line(line);
        }
        totals
    }

    /// Adds one line; `false` when it is not an EMF line.
    pub fn add_line(&mut self, line: &str) -> bool {
        // A cheap look before parsing: most lines are logs.
        if !may_be_emf(line) {
            return false;
        }
        serde_json::from_str::<Value>(line).is_ok_and(|v| self.add_parsed(&v))
    }

    /// Adds one line already parsed; `false` when it is not an EMF line.
    fn add_parsed(&mut self, v: &Value) -> bool {
        let Some(directive) = v.pointer("/_aws/CloudWatchMetrics/0") else {
            return false;
        };
        let dimensions: BTreeMap<String, String> = directive
            .pointer("/Dimensions/0")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|d| (d.to_owned(), v[d].as_str().unwrap_or_default().to_owned()))
            .collect();
        let metrics = directive["Metrics"].as_array().into_iter().flatten();
        for metric in metrics.filter_map(|m| m["Name"].as_str()) {
            self.add(metric, &dimensions, &v[metric]);
        }
        true
    }

    fn add(&mut self, metric: &str, dimensions: &BTreeMap<String, String>, value: &Value) {
        let key = format!("{metric}{dimensions:?}");
        let series = self.series.entry(key).or_insert_with(|| Series {
            name: metric.to_owned(),
            dimensions: dimensions.clone(),
            ..Series::default()
        });
        let values: Vec<f64> = match value {
            Value::Array(values) => values.iter().filter_map(Value::as_f64).collect(),
            other => other.as_f64().into_iter().collect(),
        };
        for x in values {
            series.sum += x;
            series.samples += 1;
            series.max = series.max.max(x);
        }
    }

    /// The sum of metric `metric` over the series whose dimensions include `dims`.
    pub fn sum(&self, metric: &str, dims: &[(&str, &str)]) -> f64 {
        self.matching(metric, dims).map(|s| s.sum).sum()
    }

    /// The mean of a histogram over the matching series (0 without samples).
    pub fn mean(&self, metric: &str, dims: &[(&str, &str)]) -> f64 {
        let (sum, n) = self
            .matching(metric, dims)
            .fold((0.0, 0u64), |(s, n), x| (s + x.sum, n + x.samples));
        if n == 0 {
            0.0
        } else {
            sum / n as f64
        }
    }

    fn matching<'a>(
        &'a self,
        metric: &'a str,
        dims: &'a [(&str, &str)],
    ) -> impl Iterator<Item = &'a Series> + 'a {
        self.series.values().filter(move |s| {
            s.name == metric
                && dims
                    .iter()
                    .all(|(k, v)| s.dimensions.get(*k).is_some_and(|x| x == v))
        })
    }

    /// The order counts the metrics give, for reports and the checks that they add up.
    pub fn orders(&self) -> OrderMetrics {
        let count = |metric: &str, outcome: Option<&str>| {
            let dims: Vec<(&str, &str)> = outcome.map(|o| (dim::OUTCOME, o)).into_iter().collect();
            // Counts are whole numbers; the f64 only carries them.
            self.sum(metric, &dims).round() as u64
        };
        OrderMetrics {
            placed: count(name::ORDERS_PLACED, None),
            refused_requests: count(name::REQUESTS_REFUSED, None),
            reserved: count(name::RESERVATIONS, Some("reserved")),
            rejected: count(name::RESERVATIONS, Some("refused")),
            approved: count(name::CHARGES, Some("approved")),
            declined: count(name::CHARGES, Some("declined")),
            charges_unknown: count(name::CHARGES, Some("unknown")),
            cancelled: count(name::STOCK_RELEASED, None),
            notified: count(name::NOTIFICATIONS_SENT, None),
            contention_retries: count(name::CONTENTION_RETRIES, None),
            records_failed: count(name::RECORDS_FAILED, None),
            stage_latency_ms: ["reserve", "charge", "release", "notify"]
                .into_iter()
                .map(|stage| {
                    let mean = self.mean(name::STAGE_LATENCY, &[(dim::STAGE, stage)]);
                    (stage.to_owned(), mean.round() as u64)
                })
                .collect(),
        }
    }
}

/// What the functions' metrics say about the orders of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OrderMetrics {
    pub placed: u64,
    pub refused_requests: u64,
    pub reserved: u64,
    /// Refused for insufficient stock: the order `REJECTED`.
    pub rejected: u64,
    /// Charged: the order `CONFIRMED`.
    pub approved: u64,
    pub declined: u64,
    pub charges_unknown: u64,
    /// Stock released after a decline: the order `CANCELLED`.
    pub cancelled: u64,
    pub notified: u64,
    pub contention_retries: u64,
    pub records_failed: u64,
    /// Mean milliseconds from placed to each stage's decision.
    pub stage_latency_ms: BTreeMap<String, u64>,
}

impl OrderMetrics {
    /// Where the counts do not add up, once nothing is in flight: placed = reserved +
    /// rejected, reserved = approved + declined, declined = cancelled, and every finished
    /// order told. Empty when they all hold.
    pub fn imbalances(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut check = |what: &str, left: u64, right: u64| {
            if left != right {
                out.push(format!("{what}: {left} ≠ {right}"));
            }
        };
        check(
            "placed = reserved + rejected",
            self.placed,
            self.reserved + self.rejected,
        );
        check(
            "reserved = approved + declined",
            self.reserved,
            self.approved + self.declined,
        );
        check("declined = cancelled", self.declined, self.cancelled);
        check(
            "placed = confirmed + rejected + cancelled",
            self.placed,
            self.approved + self.rejected + self.cancelled,
        );
        check(
            "notified = confirmed + rejected + cancelled",
            self.notified,
            self.approved + self.rejected + self.cancelled,
        );
        out
    }

    /// Orders waiting at each stage: placed but not reserved or rejected, reserved but not
    /// charged, declined but not released, finished but not told.
    pub fn in_flight(&self) -> [(&'static str, i64); 4] {
        let n = |x: u64| i64::try_from(x).unwrap_or(i64::MAX);
        let finished = n(self.approved) + n(self.rejected) + n(self.cancelled);
        [
            (
                "inventory",
                n(self.placed) - n(self.reserved) - n(self.rejected),
            ),
            (
                "payment",
                n(self.reserved) - n(self.approved) - n(self.declined),
            ),
            ("release", n(self.declined) - n(self.cancelled)),
            ("notify", finished - n(self.notified)),
        ]
    }
}

/// The local cloud's store: the totals so far, and the file other processes read.
#[derive(Clone, Default)]
pub struct MetricsStore {
    totals: Arc<Mutex<Totals>>,
    file: Option<PathBuf>,
}

impl MetricsStore {
    /// A store that also appends every EMF line to `<state_dir>/metrics.jsonl` (emptied now: a
    /// new cloud's metrics are its own).
    pub fn new(state_dir: Option<&Path>) -> MetricsStore {
        let file = state_dir.map(|d| d.join(METRICS_FILE));
        if let Some(path) = &file {
            let _ = std::fs::write(path, "");
        }
        MetricsStore {
            totals: Arc::default(),
            file,
        }
    }

    /// Keeps `line` if it is an EMF line (then `true`).
    pub fn record(&self, line: &str) -> bool {
        may_be_emf(line)
            && serde_json::from_str::<Value>(line).is_ok_and(|v| self.record_parsed(line, &v))
    }

    /// [`MetricsStore::record`] of a line the caller has parsed already (`parsed`).
    pub fn record_parsed(&self, line: &str, parsed: &Value) -> bool {
        let kept = may_be_emf(line)
            && self
                .totals
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .add_parsed(parsed);
        if kept {
            if let Some(path) = &self.file {
                // Created here too: `local up` makes its state folder after the log sink.
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path);
                if let Ok(mut f) = file {
                    // One write per line: the functions' lines come from several tasks at once,
                    // and a reader never sees half a line.
                    let _ = f.write_all(format!("{line}\n").as_bytes());
                }
            }
        }
        kept
    }

    pub fn totals(&self) -> Totals {
        self.totals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// The cheap look before any parsing: an EMF line is a JSON object naming `_aws`.
fn may_be_emf(line: &str) -> bool {
    line.starts_with('{') && line.contains("\"_aws\"")
}

/// The metrics a local cloud kept in `state_dir` so far.
pub fn read(state_dir: &Path) -> Totals {
    std::fs::read_to_string(state_dir.join(METRICS_FILE))
        .map(|text| Totals::from_lines(&text))
        .unwrap_or_default()
}

/// The metrics kept in `state_dir` once `orders` customers were told (the last batches' lines
/// follow their invocations' ends), or after `within` whatever they are.
pub async fn settled(state_dir: &Path, orders: u64, within: std::time::Duration) -> Totals {
    let deadline = tokio::time::Instant::now() + within;
    let mut kept = Following::new(state_dir.join(METRICS_FILE));
    loop {
        kept.read_on();
        if kept.totals.orders().notified >= orders || tokio::time::Instant::now() >= deadline {
            return kept.totals;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

/// The metrics file read as it grows: each look adds only the whole lines written since the last.
struct Following {
    path: PathBuf,
    /// Bytes read so far, up to the end of the last whole line.
    offset: u64,
    totals: Totals,
}

impl Following {
    fn new(path: PathBuf) -> Following {
        Following {
            path,
            offset: 0,
            totals: Totals::default(),
        }
    }

    fn read_on(&mut self) {
        use std::io::{Read, Seek, SeekFrom};
        let mut new = String::new();
        let read = std::fs::File::open(&self.path).and_then(|mut f| {
            f.seek(SeekFrom::Start(self.offset))?;
            f.read_to_string(&mut new)
        });
        if read.is_err() {
            return;
        }
        let whole = new.rfind('\n').map_or(0, |end| end + 1);
        for line in new[..whole].lines() {
            self.totals.add_line(line);
        }
        self.offset += whole as u64;
    }
}

/// Where the metrics disagree with a run's own counts of final orders, or among themselves.
pub fn mismatches(
    metrics: &OrderMetrics,
    confirmed: u64,
    rejected: u64,
    cancelled: u64,
) -> Vec<String> {
    let mut out = metrics.imbalances();
    for (what, emitted, counted) in [
        ("confirmed", metrics.approved, confirmed),
        ("rejected", metrics.rejected, rejected),
        ("cancelled", metrics.cancelled, cancelled),
    ] {
        if emitted != counted {
            out.push(format!(
                "{what}: the metrics count {emitted}, the run {counted}"
            ));
        }
    }
    out
}

/// The live line: orders per second by outcome since `before` (`secs` ago), orders in flight
/// per stage, and the DLQs' depth when known.
pub fn summary(before: &Totals, now: &Totals, secs: f64, dlq_depth: Option<u64>) -> String {
    let (a, b) = (before.orders(), now.orders());
    let rate = |x: u64, y: u64| (y.saturating_sub(x)) as f64 / secs.max(0.001);
    let flight = b
        .in_flight()
        .iter()
        .map(|(stage, n)| format!("{stage} {n}"))
        .collect::<Vec<_>>()
        .join(" ");
    format!(
        "orders/s placed {:.1} confirmed {:.1} rejected {:.1} cancelled {:.1} refused {:.1} · in flight: {flight} · DLQ {}",
        rate(a.placed, b.placed),
        rate(a.approved, b.approved),
        rate(a.rejected, b.rejected),
        rate(a.cancelled, b.cancelled),
        rate(a.refused_requests, b.refused_requests),
        dlq_depth.map_or("?".to_owned(), |d| d.to_string()),
    )
}

#[cfg(test)]
mod tests;
