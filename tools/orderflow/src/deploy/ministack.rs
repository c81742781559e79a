//! MiniStack (PyPI `ministack`, pinned in `infra/requirements-ministack.txt`, installed in
//! `.venv-ministack` by `make`) as a process group of its own: Ctrl-C in the terminal reaches
//! `orderflow` only, which stops its HTTP API first and then MiniStack with every bootstrap
//! process MiniStack started (they share its group).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use super::DeployError;

/// Where MiniStack's executable is, where it listens and keeps its files.
#[derive(Debug, Clone)]
pub struct MiniStackOptions {
    /// The virtualenv MiniStack is installed in (`.venv-ministack`).
    pub venv: PathBuf,
    pub port: u16,
    /// Its scratch folder (`TMPDIR`: the function code it unpacks) and its log.
    pub state_dir: PathBuf,
}

/// A running MiniStack; dropped without [`MiniStack::stop`], its group is sent SIGTERM.
pub struct MiniStack {
    pub endpoint: String,
    pub log: PathBuf,
    child: Child,
    /// Its process group (its own pid): MiniStack and the bootstraps it runs.
    group: Option<u32>,
}

const HEALTHY_WITHIN: Duration = Duration::from_secs(60);

/// MiniStack's settings (environment variables: it has no flags for them), DEPLOY-NOTES §1.
pub fn environment(port: u16, state_dir: &Path) -> Vec<(&'static str, String)> {
    let endpoint = format!("http://127.0.0.1:{port}");
    vec![
        ("GATEWAY_PORT", port.to_string()),
        ("BIND_HOST", "127.0.0.1".into()),
        // The host part of the URLs it hands out (queue URLs).
        ("MINISTACK_HOST", "127.0.0.1".into()),
        // Handed to every `provided.*` function as is: without it a bootstrap calls real AWS.
        ("AWS_ENDPOINT_URL", endpoint),
        // With AUTH=true MiniStack refuses SNS PublishBatch unless a role allows
        // `sns:PublishBatch`, an action AWS does not have: every notification would fail.
        ("AUTH", "false".into()),
        ("TMPDIR", state_dir.display().to_string()),
    ]
}

impl MiniStack {
    /// Starts MiniStack and waits until it answers its health check.
    pub async fn start(options: &MiniStackOptions) -> Result<MiniStack, DeployError> {
        let binary = options.venv.join("bin/ministack");
        if !binary.is_file() {
            return Err(DeployError::MiniStack(format!(
                "{} is missing: `make .venv-ministack/.installed` installs it",
                binary.display()
            )));
        }
        std::fs::create_dir_all(&options.state_dir)?;
        let state_dir = std::path::absolute(&options.state_dir)?;
        let log = state_dir.join("ministack.log");
        let out = std::fs::File::create(&log)?;
        let child = Command::new(&binary)
            .envs(environment(options.port, &state_dir))
            .env_remove("AWS_PROFILE")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .process_group(0)
            .spawn()
            .map_err(|e| DeployError::MiniStack(format!("{}: {e}", binary.display())))?;
        let mut ministack = MiniStack {
            endpoint: format!("http://127.0.0.1:{}", options.port),
            log,
            group: child.id(),
            child,
        };
        if let Err(e) = ministack.healthy().await {
            ministack.stop().await;
            return Err(e);
        }
        Ok(ministack)
    }

    async fn healthy(&mut self) -> Result<(), DeployError> {
        let http = reqwest::Client::new();
        let url = format!("{}/_ministack/health", self.endpoint);
        let deadline = tokio::time::Instant::now() + HEALTHY_WITHIN;
        loop {
            if let Ok(r) = http.get(&url).send().await {
                if r.status().is_success() {
                    return Ok(());
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(DeployError::MiniStack(format!(
                    "exited ({status}); see {}",
                    self.log.display()
                )));
            }
            if tokio::time::Instant::now() > deadline {
                return Err(DeployError::MiniStack(format!(
                    "no answer from {url} within {} s; see {}",
                    HEALTHY_WITHIN.as_secs(),
                    self.log.display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// SIGTERM to its group (MiniStack ends its bootstraps itself), SIGKILL to the group if it
    /// has not exited 10 s later.
    pub async fn stop(mut self) {
        let Some(group) = self.group.take() else {
            return;
        };
        signal_group(group, "TERM");
        let exited = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
        if exited.is_err() {
            signal_group(group, "KILL");
            let _ = self.child.wait().await;
        }
    }
}

impl Drop for MiniStack {
    fn drop(&mut self) {
        if let Some(group) = self.group.take() {
            signal_group(group, "TERM");
        }
    }
}

/// `kill -<signal> -- -<group>`: the whole process group.
fn signal_group(group: u32, signal: &str) {
    let _ = std::process::Command::new("kill")
        .args([&format!("-{signal}"), "--", &format!("-{group}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ministack_listens_on_loopback_hands_its_endpoint_to_the_functions_and_runs_without_auth() {
        let env: std::collections::BTreeMap<_, _> =
            environment(4599, Path::new("/tmp/x")).into_iter().collect();
        assert_eq!(env["GATEWAY_PORT"], "4599");
        assert_eq!(env["BIND_HOST"], "127.0.0.1");
        assert_eq!(env["AWS_ENDPOINT_URL"], "http://127.0.0.1:4599");
        assert_eq!(env["AUTH"], "false");
        assert_eq!(env["TMPDIR"], "/tmp/x");
    }

    #[tokio::test]
    async fn a_missing_ministack_says_how_to_install_it() {
        let options = MiniStackOptions {
            venv: PathBuf::from("/nonexistent-venv"),
            port: 1,
            state_dir: std::env::temp_dir(),
        };
        let Err(e) = MiniStack::start(&options).await else {
            panic!("started a MiniStack that is not installed");
        };
        assert!(e.to_string().contains(".venv-ministack"), "{e}");
    }
}
