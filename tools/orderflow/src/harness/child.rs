//! `orderflow local up` as a child process, on free ports and a state folder of its own: what
//! the end-to-end tests run, so that a cloud that crashes or hangs, or a test that blocks its
//! thread, stays on its own side of a process boundary. Its output is captured line by line;
//! it is stopped with SIGTERM (so it stops its own children) when dropped.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::local;

/// The `orderflow local up` flags of a child cloud beyond its ports and state folder.
#[derive(Debug, Clone, Default)]
pub struct ChildOptions {
    /// `--visibility-timeout`: failed messages come back after this many seconds.
    pub visibility_timeout: Option<u32>,
    /// `--function-env KEY=VALUE` for every function.
    pub function_env: Vec<(String, String)>,
    /// `--seed`: another catalog.
    pub seed: Option<PathBuf>,
    /// `--aws-faults`, `--esm-faults` and `--fault-seed`.
    pub aws_faults: Option<String>,
    pub esm_faults: Option<String>,
    pub fault_seed: Option<u64>,
    /// `--auth`: the API checks a token on every order route, as deployed.
    pub auth: bool,
    /// `--parameter NAME=VALUE`: template parameters instead of their defaults.
    pub parameters: Vec<(String, String)>,
    /// `--schedule-period`: every schedule this often (seconds).
    pub schedule_period: Option<u64>,
    /// `--harsh SPEC`: the harsh cloud.
    pub harsh: Option<String>,
    /// `--instances`, `--batches-in-flight` (else `local up`'s defaults).
    pub instances: Option<usize>,
    pub batches_in_flight: Option<usize>,
    /// `--console-port`: the console's port; a free one when `None` (clouds run side by side).
    pub console_port: Option<u16>,
}

impl ChildOptions {
    fn args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = Vec::new();
        let mut flag = |name: &str, value: OsString| {
            args.push(name.into());
            args.push(value);
        };
        if let Some(v) = self.visibility_timeout {
            flag("--visibility-timeout", v.to_string().into());
        }
        if let Some(seed) = &self.seed {
            flag("--seed", seed.into());
        }
        for (k, v) in &self.function_env {
            flag("--function-env", format!("{k}={v}").into());
        }
        if let Some(f) = &self.aws_faults {
            flag("--aws-faults", f.into());
        }
        if let Some(f) = &self.esm_faults {
            flag("--esm-faults", f.into());
        }
        if let Some(seed) = self.fault_seed {
            flag("--fault-seed", seed.to_string().into());
        }
        for (k, v) in &self.parameters {
            flag("--parameter", format!("{k}={v}").into());
        }
        if let Some(seconds) = self.schedule_period {
            flag("--schedule-period", seconds.to_string().into());
        }
        if let Some(spec) = &self.harsh {
            flag("--harsh", spec.into());
        }
        if let Some(n) = self.instances {
            flag("--instances", n.to_string().into());
        }
        if let Some(n) = self.batches_in_flight {
            flag("--batches-in-flight", n.to_string().into());
        }
        flag(
            "--console-port",
            self.console_port.unwrap_or(0).to_string().into(),
        );
        if self.auth {
            args.push("--auth".into());
        }
        args
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ChildError {
    #[error("{0} is missing: run `cargo build --workspace` (make test does) first")]
    Missing(PathBuf),
    #[error("{binary} could not start: {source}")]
    Spawn {
        binary: PathBuf,
        source: std::io::Error,
    },
    #[error("{command} exited ({status}):\n{output}")]
    Exited {
        command: String,
        status: String,
        output: String,
    },
    #[error("{command} was not ready in {seconds} s:\n{output}")]
    NotReady {
        command: String,
        seconds: u64,
        output: String,
    },
}

/// A running `orderflow local up` (or `orderflow deploy local`, [`super::deployed`]).
pub struct ChildProcess {
    /// `orderflow local up`, for what it says when it fails.
    command: String,
    child: Child,
    output: Arc<Mutex<Vec<String>>>,
    state_dir: PathBuf,
}

/// Where a started child cloud listens.
pub struct Started {
    pub process: ChildProcess,
    pub api_url: String,
    pub endpoint: String,
    pub state_dir: PathBuf,
}

const READY_WITHIN: Duration = Duration::from_secs(90);

/// A cloud started as `binary <command> --api-port A <endpoint_flag> E --state-dir D <extra>`,
/// on two free ports and a state folder of its own, waited for until it says it is ready.
pub(super) struct Launch {
    pub command: [&'static str; 2],
    /// The flag that sets the port of its AWS endpoint.
    pub endpoint_flag: &'static str,
    pub extra: Vec<OsString>,
    /// The state folder's name in the temporary folder, before a fresh id.
    pub state_prefix: &'static str,
    pub ready_within: Duration,
}

impl Launch {
    /// How many times a child that lost one of its ports to another process is started again on
    /// fresh ones.
    const PORT_TRIES: usize = 3;

    pub(super) async fn run(self, binary: &Path, cwd: &Path) -> Result<Started, ChildError> {
        if !binary.is_file() {
            return Err(ChildError::Missing(binary.to_owned()));
        }
        let mut tries = 1;
        loop {
            match self.run_once(binary, cwd).await {
                Err(ChildError::Exited { output, .. })
                    if tries < Self::PORT_TRIES && lost_a_port(&output) =>
                {
                    tries += 1;
                }
                started => return started,
            }
        }
    }

    /// One start on two ports found free: another process can take one before the child
    /// binds it, and then the child exits saying so.
    async fn run_once(&self, binary: &Path, cwd: &Path) -> Result<Started, ChildError> {
        let spawn = |source| ChildError::Spawn {
            binary: binary.to_owned(),
            source,
        };
        let (api_port, endpoint_port) = (
            local::free_port().map_err(spawn)?,
            local::free_port().map_err(spawn)?,
        );
        let state_dir =
            std::env::temp_dir().join(format!("{}-{}", self.state_prefix, uuid::Uuid::new_v4()));
        let mut args: Vec<OsString> = self.command.into_iter().map(OsString::from).collect();
        args.extend(["--api-port".into(), api_port.to_string().into()]);
        args.extend([self.endpoint_flag.into(), endpoint_port.to_string().into()]);
        args.extend(["--state-dir".into(), state_dir.clone().into_os_string()]);
        args.extend(self.extra.iter().cloned());
        let mut process = ChildProcess::spawn(binary, cwd, args, &state_dir)?;
        process.ready(self.ready_within).await?;
        Ok(Started {
            process,
            api_url: format!("http://127.0.0.1:{api_port}"),
            endpoint: format!("http://127.0.0.1:{endpoint_port}"),
            state_dir,
        })
    }
}

/// True when a child's output says a port it was given was taken before it could listen.
fn lost_a_port(output: &str) -> bool {
    output.contains("Address already in use")
}

impl ChildProcess {
    /// Starts `binary local up` in `cwd` and waits until it says it is ready.
    pub async fn start(
        binary: &Path,
        cwd: &Path,
        options: &ChildOptions,
    ) -> Result<Started, ChildError> {
        let launch = Launch {
            command: ["local", "up"],
            endpoint_flag: "--aws-port",
            extra: options.args(),
            state_prefix: "orderflow-e2e",
            ready_within: READY_WITHIN,
        };
        launch.run(binary, cwd).await
    }

    /// `binary args…` in `cwd`, its output captured; `state_dir` is removed after a clean exit.
    pub(super) fn spawn(
        binary: &Path,
        cwd: &Path,
        args: Vec<OsString>,
        state_dir: &Path,
    ) -> Result<ChildProcess, ChildError> {
        let command = format!(
            "orderflow {}",
            args.iter()
                .take(2)
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" ")
        );
        let mut child = Command::new(binary)
            .current_dir(cwd)
            .args(args)
            // Its own endpoint, whatever the caller's environment names.
            .env_remove("AWS_ENDPOINT_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| ChildError::Spawn {
                binary: binary.to_owned(),
                source,
            })?;
        let output = capture(&mut child);
        Ok(ChildProcess {
            command,
            child,
            output,
            state_dir: state_dir.to_owned(),
        })
    }

    /// Waits until it says it is ready.
    pub(super) async fn ready(&mut self, within: Duration) -> Result<(), ChildError> {
        let deadline = Instant::now() + within;
        loop {
            if self
                .output()
                .iter()
                .any(|l| l.contains(local::messages::READY))
            {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(ChildError::Exited {
                    command: self.command.clone(),
                    status: status.to_string(),
                    output: self.output().join("\n"),
                });
            }
            if Instant::now() > deadline {
                return Err(ChildError::NotReady {
                    command: self.command.clone(),
                    seconds: within.as_secs(),
                    output: self.output().join("\n"),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every line it has written so far (stdout and stderr, interleaved as they arrived).
    pub fn output(&self) -> Vec<String> {
        self.output
            .lock()
            .map(|lines| lines.clone())
            .unwrap_or_default()
    }

    /// SIGTERM, so the local cloud stops its own children before it exits; killed if it has
    /// not exited 15 s later. Its state folder is removed after a clean exit (see
    /// [`ChildProcess::clear_state_dir`]).
    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                self.clear_state_dir();
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ChildProcess {
    /// Removes the state folder, unless a test is failing on this thread: then its logs are
    /// what explains the failure, so the folder stays and its path is printed.
    fn clear_state_dir(&self) {
        if std::thread::panicking() {
            eprintln!(
                "state kept for the failed test: {}",
                self.state_dir.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.state_dir);
        }
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop();
        }
    }
}

/// Collects the child's stdout and stderr lines as they come.
fn capture(child: &mut Child) -> Arc<Mutex<Vec<String>>> {
    let output = Arc::new(Mutex::new(Vec::new()));
    let streams = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
    ];
    for stream in streams.into_iter().flatten() {
        let output = output.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if let Ok(mut lines) = output.lock() {
                    lines.push(line);
                }
            }
        });
    }
    output
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_that_could_not_listen_on_its_api_port_lost_a_port() {
        let said = crate::local::up::UpError::ApiPort {
            port: 40_000,
            source: std::io::Error::from_raw_os_error(98),
        }
        .to_string();
        assert!(lost_a_port(&said), "{said}");
    }

    #[test]
    fn a_child_that_failed_otherwise_did_not_lose_a_port() {
        assert!(!lost_a_port("template infra/template.yaml: no Resources"));
    }
}
