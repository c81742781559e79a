//! `orderflow deploy local --debug-bootstraps` as a child process, on free ports and a state
//! folder of its own: MiniStack, the stack deployed into it with `sam deploy`, its API — what
//! the end-to-end tests run the same scenarios against as against the local cloud. Stopped
//! like the local cloud's child (SIGTERM: it stops its API, then MiniStack's process group).

use std::path::Path;
use std::time::Duration;

use super::child::{ChildError, ChildProcess, Launch, Started};

/// MiniStack's start, the staging, `sam deploy` (17–30 s alone; minutes on a loaded machine).
const READY_WITHIN: Duration = Duration::from_secs(600);

impl ChildProcess {
    /// Starts `binary deploy local --debug-bootstraps` in `cwd` (the workspace: the template,
    /// samconfig, `target/debug` and both virtualenvs are found from there) and waits until it
    /// says it is ready.
    pub async fn deploy(binary: &Path, cwd: &Path) -> Result<Started, ChildError> {
        let launch = Launch {
            command: ["deploy", "local"],
            endpoint_flag: "--ministack-port",
            // A console on a free port: clouds run side by side in the tests.
            extra: vec![
                "--debug-bootstraps".into(),
                "--console-port".into(),
                "0".into(),
            ],
            state_prefix: "orderflow-deploy",
            ready_within: READY_WITHIN,
        };
        launch.run(binary, cwd).await
    }
}
