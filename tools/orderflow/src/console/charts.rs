//! The charts' data: the local cloud's metrics store ([`crate::local::metrics`], the same
//! totals `local up`'s summary line and `orderflow load` read) sampled every few seconds, each
//! sample the orders per second by outcome and the mean latency of each stage over the
//! interval.

// Rates and means are floats; the workspace lint is about money.
#![allow(clippy::float_arithmetic)]

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use orderflow_shared::telemetry::metrics::{dim, name};
use serde::Serialize;

use crate::local::metrics::{MetricsStore, Totals};

/// How often a sample is taken, and how many are kept (five minutes).
pub const EVERY: Duration = Duration::from_secs(2);
pub const KEPT: usize = 150;

/// The stages whose latency is charted (as the functions' `stage` dimension names them).
pub const STAGES: [&str; 4] = ["reserve", "charge", "release", "notify"];

/// One interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Sample {
    /// Seconds since the Unix epoch at the interval's end.
    pub at: i64,
    /// Orders per second by outcome over the interval.
    pub placed: f64,
    pub confirmed: f64,
    pub rejected: f64,
    pub cancelled: f64,
    pub refused: f64,
    /// Mean milliseconds from placed to each stage's decision, over the interval's samples
    /// (absent for a stage nothing reached).
    pub latency_ms: BTreeMap<String, f64>,
}

/// The samples so far, oldest first.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Charts {
    pub samples: VecDeque<Sample>,
}

/// What is summed per stage to take a mean over an interval.
fn stage_sums(totals: &Totals) -> BTreeMap<String, (f64, u64)> {
    let mut out: BTreeMap<String, (f64, u64)> = BTreeMap::new();
    for s in totals
        .series
        .values()
        .filter(|s| s.name == name::STAGE_LATENCY)
    {
        if let Some(stage) = s.dimensions.get(dim::STAGE) {
            let e = out.entry(stage.clone()).or_default();
            e.0 += s.sum;
            e.1 += s.samples;
        }
    }
    out
}

/// The interval from `before` to `now`, `secs` long, ending at `at`.
pub fn sample(before: &Totals, now: &Totals, secs: f64, at: i64) -> Sample {
    let (a, b) = (before.orders(), now.orders());
    let rate = |x: u64, y: u64| y.saturating_sub(x) as f64 / secs.max(0.001);
    let (sa, sb) = (stage_sums(before), stage_sums(now));
    let latency_ms = sb
        .iter()
        .filter_map(|(stage, (sum, n))| {
            let (sum0, n0) = sa.get(stage).copied().unwrap_or_default();
            let count = n.saturating_sub(n0);
            (count > 0).then(|| (stage.clone(), (sum - sum0) / count as f64))
        })
        .collect();
    Sample {
        at,
        placed: rate(a.placed, b.placed),
        confirmed: rate(a.approved, b.approved),
        rejected: rate(a.rejected, b.rejected),
        cancelled: rate(a.cancelled, b.cancelled),
        refused: rate(a.refused_requests, b.refused_requests),
        latency_ms,
    }
}

impl Charts {
    pub fn push(&mut self, s: Sample) {
        if self.samples.len() == KEPT {
            self.samples.pop_front();
        }
        self.samples.push_back(s);
    }
}

/// Samples `store` every [`EVERY`] into `charts` until the task is dropped.
pub async fn sample_forever(store: MetricsStore, charts: std::sync::Arc<std::sync::Mutex<Charts>>) {
    let mut before = store.totals();
    let mut ticks = tokio::time::interval(EVERY);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let now = store.totals();
        let s = sample(
            &before,
            &now,
            EVERY.as_secs_f64(),
            chrono::Utc::now().timestamp(),
        );
        charts.lock().unwrap_or_else(|p| p.into_inner()).push(s);
        before = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emf(metric: &str, dims: &[(&str, &str)], value: f64) -> String {
        let names: Vec<&str> = dims.iter().map(|(k, _)| *k).collect();
        let mut v = serde_json::json!({
            "_aws": {"Timestamp": 0, "CloudWatchMetrics": [{
                "Namespace": "orderflow",
                "Dimensions": [names],
                "Metrics": [{"Name": metric}]
            }]},
            metric: value
        });
        for (k, val) in dims {
            v[*k] = serde_json::Value::from(*val);
        }
        v.to_string()
    }

    #[test]
    fn a_sample_is_the_rate_and_the_mean_latency_of_its_interval_only() {
        let mut before = Totals::default();
        before.add_line(&emf(name::ORDERS_PLACED, &[], 4.0));
        before.add_line(&emf(
            name::STAGE_LATENCY,
            &[(dim::STAGE, "reserve")],
            1000.0,
        ));
        let mut now = before.clone();
        now.add_line(&emf(name::ORDERS_PLACED, &[], 6.0));
        now.add_line(&emf(name::CHARGES, &[(dim::OUTCOME, "approved")], 2.0));
        now.add_line(&emf(name::STAGE_LATENCY, &[(dim::STAGE, "reserve")], 10.0));
        now.add_line(&emf(name::STAGE_LATENCY, &[(dim::STAGE, "reserve")], 30.0));
        let s = sample(&before, &now, 2.0, 7);
        assert_eq!(s.placed, 3.0);
        assert_eq!(s.confirmed, 1.0);
        assert_eq!(s.rejected, 0.0);
        // The first interval's 1000 ms sample is not this interval's.
        assert_eq!(s.latency_ms.get("reserve"), Some(&20.0));
        assert_eq!(s.latency_ms.get("charge"), None);
    }

    #[test]
    fn only_the_last_samples_are_kept() {
        let mut charts = Charts::default();
        for at in 0..(KEPT as i64 + 5) {
            charts.push(sample(&Totals::default(), &Totals::default(), 1.0, at));
        }
        assert_eq!(charts.samples.len(), KEPT);
        assert_eq!(charts.samples.front().map(|s| s.at), Some(5));
    }
}
