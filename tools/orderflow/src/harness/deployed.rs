//! `orderflow deploy local --debug-bootstraps` as a child process, on free ports and a state
//! folder of its own: MiniStack, the stack deployed into it with `sam deploy`, its API — what
//! the end-to-end tests run the same scenarios against as against the local cloud. Stopped
//! like the local cloud's child (SIGTERM: it stops its API, then MiniStack's process group).

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use super::child::{ChildError, ChildProcess, Started};
use crate::local;

/// MiniStack's start, the staging, `sam deploy` (17–30 s alone; minutes on a loaded machine).
const READY_WITHIN: Duration = Duration::from_secs(600);

impl ChildProcess {
    /// Starts `binary deploy local --debug-bootstraps` in `cwd` (the workspace: the template,
    /// samconfig, `target/debug` and both virtualenvs are found from there) and waits until it
    /// says it is ready.
    pub async fn deploy(binary: &Path, cwd: &Path) -> Result<Started, ChildError> {
        if !binary.is_file() {
            return Err(ChildError::Missing(binary.to_owned()));
        }
        let spawn = |source| ChildError::Spawn {
            binary: binary.to_owned(),
            source,
        };
        let (api_port, ministack_port) = (
            local::free_port().map_err(spawn)?,
            local::free_port().map_err(spawn)?,
        );
        let state_dir =
            std::env::temp_dir().join(format!("orderflow-deploy-{}", uuid::Uuid::new_v4()));
        let mut args: Vec<OsString> = vec!["deploy".into(), "local".into()];
        for (flag, value) in [
            ("--debug-bootstraps", None),
            ("--api-port", Some(api_port.to_string())),
            ("--ministack-port", Some(ministack_port.to_string())),
        ] {
            args.push(flag.into());
            args.extend(value.map(OsString::from));
        }
        args.extend(["--state-dir".into(), state_dir.clone().into_os_string()]);
        let mut process = ChildProcess::spawn(binary, cwd, args, &state_dir)?;
        process.ready(READY_WITHIN).await?;
        Ok(Started {
            process,
            api_url: format!("http://127.0.0.1:{api_port}"),
            endpoint: format!("http://127.0.0.1:{ministack_port}"),
            state_dir,
        })
    }
}
