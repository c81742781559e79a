//! What `sam deploy` uploads: the release bootstraps, built by `sam build` (which runs
//! `cargo lambda build --release` for each function, as on AWS), or the debug binaries
//! `cargo build --workspace --bins` already made, staged ([`super::stage`]) — the path
//! `make test` takes, a deploy in seconds instead of a release build in minutes.

use std::path::{Path, PathBuf};

use tokio::process::Command;

use super::sam::{run_logged, SamDeploy};
use super::{stage, DeployError};
use crate::local::logs::LogSink;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Build {
    /// `sam build` with the config environment's build parameters (cargo-lambda, release).
    Release,
    /// The binaries of this folder (`target/debug`), staged under the state folder.
    DebugBootstraps { bin_dir: PathBuf },
}

/// Builds or stages; returns the template `sam deploy` is to deploy.
pub async fn prepare(
    build: &Build,
    template: &Path,
    sam: &SamDeploy,
    state_dir: &Path,
    logs: &LogSink,
) -> Result<PathBuf, DeployError> {
    match build {
        Build::Release => {
            let build_dir = std::path::absolute(".aws-sam/build")?;
            let mut command = Command::new(sam.venv.join("bin/sam"));
            command
                .arg("build")
                .arg("--template-file")
                .arg(template)
                .arg("--config-file")
                .arg(&sam.config_file)
                .args(["--config-env", &sam.config_env])
                .arg("--build-dir")
                .arg(&build_dir)
                .envs(sam.environment());
            run_logged(command, "sam build", logs).await?;
            Ok(build_dir.join("template.yaml"))
        }
        Build::DebugBootstraps { bin_dir } => {
            let staged = stage::stage(template, bin_dir, &state_dir.join("sam"))?;
            logs.line(
                "orderflow",
                &format!(
                    "staged the debug binaries of {} for deployment: {}",
                    bin_dir.display(),
                    staged.display()
                ),
            );
            Ok(staged)
        }
    }
}
