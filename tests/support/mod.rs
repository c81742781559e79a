//! Helpers shared by the repository-wide and end-to-end tests.

use std::path::PathBuf;

/// The workspace root (this package lives in `tests/`).
pub fn repo_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(PathBuf::from).unwrap_or(here)
}
