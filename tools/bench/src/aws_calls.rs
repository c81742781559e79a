//! AWS calls per confirmed order: measured by `make load` (an SDK interceptor counts every call
//! of every function), which leaves its counts in a JSON file that this report only reads.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::Error;

/// `{ "orders": n, "confirmed": c, "calls": { "DynamoDB.TransactWriteItems": k, ... },
/// "per_order": x }` — `per_order` is per confirmed order.
#[derive(Debug, Clone, Deserialize)]
pub struct AwsCalls {
    pub orders: u64,
    /// Confirmed orders of the run (older files lack it: then every order counts).
    #[serde(default)]
    pub confirmed: Option<u64>,
    pub calls: BTreeMap<String, u64>,
    pub per_order: f64,
}

/// A JSON file the load run leaves, `None` when it has not written it (also read by `load`).
pub fn read<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| format!("{}: {e}", path.display()).into()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display()).into()),
    }
}
