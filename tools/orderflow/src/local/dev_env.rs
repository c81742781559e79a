//! What a running local cloud tells the tools started beside it, in `<state dir>/cloud.json`:
//! where it listens and each function's environment as the cloud gives it (the template's,
//! resolved for the local cloud). `orderflow local env FUNCTION` prints one function's as shell
//! exports or a `cargo lambda watch --env-file`, so a function can run outside the cloud
//! against it; `orderflow local fixtures load` finds the tables there.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The file in the state folder.
pub const CLOUD_FILE: &str = "cloud.json";

/// A running local cloud, as written into its state folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CloudFile {
    pub api_url: String,
    /// The AWS endpoint (moto).
    pub endpoint: String,
    /// The `orderflow local up` process: a file left by one that is gone is stale.
    pub pid: u32,
    /// Function name → its environment.
    pub functions: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum DevEnvError {
    #[error("no local cloud runs with state folder {dir} (start one: make dev): {source}")]
    NotRunning { dir: String, source: std::io::Error },
    #[error("{path} is not a local cloud's file: {source}")]
    Unreadable {
        path: String,
        source: serde_json::Error,
    },
    #[error("the local cloud of {dir} (process {pid}) has stopped; start it again: make dev")]
    Stale { dir: String, pid: u32 },
    #[error("no function {name} in the local cloud; its functions: {known}")]
    UnknownFunction { name: String, known: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// How `local env` prints an environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EnvFormat {
    /// `export KEY='value'` lines, for `eval "$(orderflow local env FUNCTION)"`.
    Export,
    /// `KEY=value` lines, for `cargo lambda watch --env-file`.
    EnvFile,
}

impl CloudFile {
    fn path(state_dir: &Path) -> PathBuf {
        state_dir.join(CLOUD_FILE)
    }

    pub fn write(&self, state_dir: &Path) -> Result<(), DevEnvError> {
        let path = CloudFile::path(state_dir);
        let write_err = |source| DevEnvError::Write {
            path: path.display().to_string(),
            source,
        };
        let text =
            serde_json::to_string_pretty(self).map_err(|e| write_err(std::io::Error::other(e)))?;
        // Written aside, then renamed: a reader never sees half a file.
        let partial = path.with_extension("json.partial");
        std::fs::write(&partial, text).map_err(write_err)?;
        std::fs::rename(&partial, &path).map_err(write_err)
    }

    /// The file of the cloud running with `state_dir`; a file whose process is gone is stale.
    pub fn read(state_dir: &Path) -> Result<CloudFile, DevEnvError> {
        let path = CloudFile::path(state_dir);
        let dir = state_dir.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|source| DevEnvError::NotRunning {
            dir: dir.clone(),
            source,
        })?;
        let file: CloudFile =
            serde_json::from_str(&text).map_err(|source| DevEnvError::Unreadable {
                path: path.display().to_string(),
                source,
            })?;
        if !process_alive(file.pid) {
            return Err(DevEnvError::Stale { dir, pid: file.pid });
        }
        Ok(file)
    }

    /// Removes the file of a cloud that stops (a missing file is fine).
    pub fn remove(state_dir: &Path) {
        let _ = std::fs::remove_file(CloudFile::path(state_dir));
    }

    pub fn function(&self, name: &str) -> Result<&BTreeMap<String, String>, DevEnvError> {
        self.functions
            .get(name)
            .ok_or_else(|| DevEnvError::UnknownFunction {
                name: name.to_owned(),
                known: self
                    .functions
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Every table a function's environment names (`*_TABLE`), deduplicated.
    pub fn tables(&self) -> BTreeMap<String, String> {
        self.functions
            .values()
            .flat_map(|env| env.iter())
            .filter(|(k, _)| k.ends_with("_TABLE"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// `env` as lines of `format`, sorted by name.
pub fn render(env: &BTreeMap<String, String>, format: EnvFormat) -> String {
    let mut out = String::new();
    for (k, v) in env {
        let _ = match format {
            EnvFormat::Export => writeln!(out, "export {k}={}", shell_quote(v)),
            // cargo lambda reads the value as it is, to the end of the line.
            EnvFormat::EnvFile => writeln!(out, "{k}={v}"),
        };
    }
    out
}

/// `value` in single quotes, a quote inside it closed, escaped and reopened.
fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// Whether process `pid` still runs (where /proc tells; elsewhere assumed).
fn process_alive(pid: u32) -> bool {
    let proc = Path::new("/proc");
    !proc.is_dir() || proc.join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(pid: u32) -> CloudFile {
        CloudFile {
            api_url: "http://127.0.0.1:3000".into(),
            endpoint: "http://127.0.0.1:4566".into(),
            pid,
            functions: BTreeMap::from([(
                "validate-order".to_owned(),
                BTreeMap::from([
                    (
                        "ORDERS_TABLE".to_owned(),
                        "orderflow-local-OrdersTable".to_owned(),
                    ),
                    ("NOTE".to_owned(), "it's here".to_owned()),
                ]),
            )]),
        }
    }

    #[test]
    fn the_file_of_a_running_cloud_is_read_back_and_one_of_a_stopped_cloud_is_stale() {
        let dir = std::env::temp_dir().join(format!("orderflow-env-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(matches!(
            CloudFile::read(&dir),
            Err(DevEnvError::NotRunning { .. })
        ));
        let running = file(std::process::id());
        running.write(&dir).unwrap();
        assert_eq!(CloudFile::read(&dir).unwrap(), running);
        // Beyond Linux's largest pid: no such process.
        file(u32::MAX - 1).write(&dir).unwrap();
        if Path::new("/proc").is_dir() {
            assert!(matches!(
                CloudFile::read(&dir),
                Err(DevEnvError::Stale { .. })
            ));
        }
        CloudFile::remove(&dir);
        assert!(!dir.join(CLOUD_FILE).exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn exports_quote_their_values_for_the_shell_and_env_files_do_not() {
        let cloud = file(1);
        let env = cloud.function("validate-order").unwrap();
        assert_eq!(
            render(env, EnvFormat::Export),
            "export NOTE='it'\\''s here'\nexport ORDERS_TABLE='orderflow-local-OrdersTable'\n"
        );
        assert_eq!(
            render(env, EnvFormat::EnvFile),
            "NOTE=it's here\nORDERS_TABLE=orderflow-local-OrdersTable\n"
        );
        let unknown = cloud.function("nope").unwrap_err().to_string();
        assert!(unknown.contains("validate-order"), "{unknown}");
        assert_eq!(
            cloud.tables(),
            BTreeMap::from([(
                "ORDERS_TABLE".to_owned(),
                "orderflow-local-OrdersTable".to_owned()
            )])
        );
    }
}
