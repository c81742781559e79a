//! Handler cost: criterion's latest results (`<criterion dir>/**/new/{benchmark,estimates}.json`).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::Error;

/// One benchmark: the time of one iteration and, when it declared how many events an
/// iteration handles, the time per event.
#[derive(Debug, Clone)]
pub struct Cost {
    pub id: String,
    pub events_per_iteration: u64,
    /// Nanoseconds per event: criterion's median and mean with its 95 % interval.
    pub median_ns: f64,
    pub mean_ns: f64,
    pub mean_low_ns: f64,
    pub mean_high_ns: f64,
}

#[derive(Deserialize)]
struct Benchmark {
    full_id: String,
    /// `{"Elements": n}` when the bench declared the events one iteration handles.
    throughput: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Estimates {
    mean: Estimate,
    median: Estimate,
}

#[derive(Deserialize)]
struct Estimate {
    point_estimate: f64,
    confidence_interval: Interval,
}

#[derive(Deserialize)]
struct Interval {
    lower_bound: f64,
    upper_bound: f64,
}

/// Every benchmark under `dir`, sorted by id; none when criterion has not run.
pub fn collect(dir: &Path) -> Result<Vec<Cost>, Error> {
    let mut found = Vec::new();
    find_new_dirs(dir, &mut found)?;
    let mut costs = Vec::new();
    for new in found {
        let benchmark: Benchmark = read_json(&new.join("benchmark.json"))?;
        let estimates: Estimates = read_json(&new.join("estimates.json"))?;
        let per = benchmark
            .throughput
            .as_ref()
            .and_then(|t| t.get("Elements"))
            .and_then(serde_json::Value::as_u64)
            .filter(|n| *n > 0)
            .unwrap_or(1);
        // Event counts are small integers: exact as f64.
        let div = per as f64;
        costs.push(Cost {
            id: benchmark.full_id,
            events_per_iteration: per,
            median_ns: estimates.median.point_estimate / div,
            mean_ns: estimates.mean.point_estimate / div,
            mean_low_ns: estimates.mean.confidence_interval.lower_bound / div,
            mean_high_ns: estimates.mean.confidence_interval.upper_bound / div,
        });
    }
    costs.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(costs)
}

fn find_new_dirs(dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), Error> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("cannot list {}: {e}", dir.display()).into()),
    };
    for entry in entries {
        let path = entry?.path();
        if !path.is_dir() {
            continue;
        }
        if path.file_name().is_some_and(|n| n == "new")
            && path.join("benchmark.json").is_file()
            && path.join("estimates.json").is_file()
        {
            found.push(path);
        } else if path
            .file_name()
            .is_some_and(|n| n != "base" && n != "report")
        {
            find_new_dirs(&path, found)?;
        }
    }
    Ok(())
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()).into())
}
