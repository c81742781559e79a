//! A running local cloud: where it listens, what it created, and how it stops — its faults
//! alone, or everything it started.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::sync::watch;

use super::auth::LocalIssuer;
use super::faults::{FaultSwitch, FUNCTION_FAULT_VARIABLES};
use super::moto::Moto;
use super::resources::Deployment;

/// The running local cloud; dropping it (or `shutdown`) stops every process it started.
pub struct LocalCloud {
    pub api_url: String,
    /// The console (`local up --console-port`), when it serves one.
    pub console_url: Option<String>,
    pub endpoint: String,
    pub deployment: Deployment,
    /// With `--auth`: the issuer whose tokens the API accepts.
    pub issuer: Option<LocalIssuer>,
    pub(super) faults: FaultSwitch,
    pub(super) function_env: watch::Sender<BTreeMap<String, String>>,
    pub(super) shutdown: watch::Sender<bool>,
    pub(super) moto: Option<Moto>,
    pub(super) tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl LocalCloud {
    /// Stops every injected fault: the AWS proxy, the event source mappings and the harsh
    /// cloud's injected parts (EventBridge duplicates and delays) at once, and the functions'
    /// own as each process is replaced between invocations. The harsh cloud's nature
    /// (transaction conflicts, the per-item write rate) stays: DynamoDB always behaves so.
    pub fn stop_faults(&self) -> std::io::Result<()> {
        self.faults.stop();
        self.function_env.send_modify(|env| {
            for var in FUNCTION_FAULT_VARIABLES {
                env.remove(var);
            }
        });
        match &self.moto {
            Some(moto) => moto.stop_injected_faults(),
            None => Ok(()),
        }
    }

    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
        // Give supervisors a moment to kill their children.
        tokio::time::sleep(Duration::from_millis(300)).await;
        if let Some(mut m) = self.moto.take() {
            let _ = m.child.kill().await;
        }
    }
}

/// Resolves once the local cloud is told to stop (the watch's guard is not held).
pub async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|s| *s).await;
}
