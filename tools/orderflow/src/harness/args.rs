//! The command-line arguments every run against a cloud shares (`chaos`, `load`): which cloud,
//! and how to start one of its own.

use std::path::PathBuf;

use crate::local::esm::BATCHES_IN_FLIGHT;
use crate::local::up::INSTANCES;

#[derive(clap::Args, Debug, Clone)]
pub struct CloudArgs {
    /// Use the cloud at this API URL (a local cloud, or `orderflow deploy local`'s) instead of
    /// starting one: its faults cannot be stopped, nor its AWS calls counted, by this run.
    #[arg(long, requires = "endpoint_url")]
    pub api_url: Option<String>,
    /// The AWS endpoint of the cloud at --api-url.
    #[arg(long)]
    pub endpoint_url: Option<String>,
    /// The state folder of the cloud at --api-url (its `--state-dir`), whose issuer signs the
    /// customers' tokens when its API checks them (`local up --auth`, `deploy local`).
    #[arg(long, requires = "api_url")]
    pub issuer_state_dir: Option<PathBuf>,
    #[arg(
        long,
        default_value = "orderflow-local",
        help = "The stack: a deployed one's names are read from the endpoint's CloudFormation, a \
                local cloud's are \"<stack>-<LogicalId>\"."
    )]
    pub stack: String,
    #[arg(long, default_value = "infra/template.yaml")]
    pub template: PathBuf,
    /// Folder with the function binaries.
    #[arg(long, default_value = "target/debug")]
    pub bin_dir: PathBuf,
    /// Where the run keeps its cloud's log, state and report (a fresh folder per run by
    /// default).
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// Processes per function (as `orderflow local up --instances`).
    #[arg(long, default_value_t = INSTANCES)]
    pub instances: usize,
    /// Batches in flight per queue (as `orderflow local up --batches-in-flight`).
    #[arg(long, default_value_t = BATCHES_IN_FLIGHT)]
    pub batches_in_flight: usize,
}

impl CloudArgs {
    /// `--state-dir`, or the run's own fresh folder.
    pub fn state_dir_or(&self, fresh: impl FnOnce() -> PathBuf) -> PathBuf {
        self.state_dir.clone().unwrap_or_else(fresh)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Run {
        #[command(flatten)]
        cloud: CloudArgs,
    }

    #[test]
    fn the_defaults_start_an_own_cloud_with_lambdas_five_batches_in_flight_per_queue() {
        let run = Run::try_parse_from(["run"]).unwrap();
        assert_eq!(run.cloud.api_url, None);
        assert_eq!(run.cloud.stack, "orderflow-local");
        assert_eq!((run.cloud.instances, run.cloud.batches_in_flight), (5, 5));
        assert_eq!(run.cloud.bin_dir, PathBuf::from("target/debug"));
        assert_eq!(
            run.cloud.state_dir_or(|| PathBuf::from("fresh")),
            PathBuf::from("fresh")
        );
    }

    #[test]
    fn an_api_url_without_its_endpoint_is_refused() {
        assert!(Run::try_parse_from(["run", "--api-url", "http://127.0.0.1:3000"]).is_err());
        let run = Run::try_parse_from([
            "run",
            "--api-url",
            "http://127.0.0.1:3000",
            "--endpoint-url",
            "http://127.0.0.1:4566",
        ])
        .unwrap();
        assert_eq!(
            run.cloud.endpoint_url.as_deref(),
            Some("http://127.0.0.1:4566")
        );
    }
}
