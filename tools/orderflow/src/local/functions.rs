//! The template's functions, started: each one's processes with the environment the template
//! declares (resolved against the local deployment), its HTTP API routes, for each of its SQS
//! event sources a poller per batch in flight (the pollers sharing the function's processes),
//! and a timer per schedule.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;

use orderflow_shared::adapters::sqs::Queues;
use orderflow_shared::config::LOCK_SECONDS;
use orderflow_template::model::Function;
use orderflow_template::Value;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;

use super::api_gateway::Route;
use super::endpoint::REGION;
use super::faults::FaultSwitch;
use super::logs::LogSink;
use super::resources::Deployment;
use super::runtime::{self, FunctionHandle, FunctionSpec, Replacements};
use super::up::{UpError, UpOptions};
use super::{esm, hot_reload, schedule, REQUIRE_AUTH};

/// What starting the functions takes from the rest of the cloud.
pub struct Wiring<'a> {
    pub options: &'a UpOptions,
    pub deployment: &'a Deployment,
    /// Where the functions reach AWS: the endpoint, or the fault proxy in front of it.
    pub endpoint: &'a str,
    /// The event source mappings' faults share this switch.
    pub faults: &'a FaultSwitch,
    pub logs: &'a LogSink,
    pub shutdown: &'a watch::Receiver<bool>,
    /// Environment added to every function, which may change while it runs.
    pub extra_env: &'a watch::Receiver<BTreeMap<String, String>>,
    pub queues: Queues,
}

/// The functions, running.
pub struct Started {
    pub routes: Vec<Route>,
    /// The event source mappings' pollers.
    pub tasks: Vec<JoinHandle<()>>,
    /// Counts the processes that have asked for their first invocation.
    pub ready: Arc<AtomicUsize>,
    /// Every function's handle (the console reads their in-flight invocations).
    pub functions: Vec<FunctionHandle>,
}

pub async fn start_all(functions: &[Function], w: &Wiring<'_>) -> Result<Started, UpError> {
    let mut started = Started {
        routes: Vec::new(),
        tasks: Vec::new(),
        ready: Arc::new(AtomicUsize::new(0)),
        functions: Vec::new(),
    };
    for f in functions {
        let handle = start_one(f, w, started.ready.clone()).await?;
        started.routes.extend(f.http_api_events().map(|http| Route {
            method: http.method.clone(),
            path: http.path.clone(),
            function: Arc::new(handle.clone()),
            authorized: http.authorizer.as_deref() != Some("NONE"),
        }));
        started.tasks.extend(start_mappings(f, &handle, w)?);
        started.tasks.extend(schedule::start(f, &handle, w)?);
        started.functions.push(handle);
    }
    Ok(started)
}

async fn start_one(
    f: &Function,
    w: &Wiring<'_>,
    ready: Arc<AtomicUsize>,
) -> Result<FunctionHandle, UpError> {
    let binary = w.options.bin_dir.join(&f.binary);
    if !binary.is_file() {
        return Err(UpError::Function {
            function: f.binary.clone(),
            message: format!(
                "{} not found; build first (`cargo build --workspace`)",
                binary.display()
            ),
        });
    }
    let mut env = cloud_environment(f, w.deployment, w.endpoint, w.options.auth)?;
    if let Some(v) = w.options.visibility_timeout {
        lock_within_visibility(&mut env, v);
    }
    let spec = FunctionSpec {
        name: f.binary.clone(),
        binary,
        env,
        timeout: Duration::from_secs(f.timeout_seconds),
        memory_mb: f.memory_mb,
        instances: w.options.instances,
    };
    // Hot reload: a rebuilt binary replaces the function's processes between invocations.
    let rebuilt = hot_reload::watch_binary(
        spec.name.clone(),
        spec.binary.clone(),
        w.logs.clone(),
        w.shutdown.clone(),
    );
    let replacements = Replacements {
        extra_env: w.extra_env.clone(),
        rebuilt,
    };
    Ok(runtime::start_function(
        spec,
        w.logs.clone(),
        w.shutdown.clone(),
        ready,
        replacements,
    )
    .await?)
}

/// How many shortened visibility timeouts a lock lasts locally.
const LOCK_TIMEOUTS: i32 = 3;

/// With the visibility timeout shortened to `seconds`, an idempotency lock (the template's
/// `IDEMPOTENCY_LOCK_SECONDS`, 90 s, under the queue's 120 s: the rule `idempotency-lock`) is
/// shortened to [`LOCK_TIMEOUTS`] of them. On AWS a record that meets a dead holder's lock comes
/// back after the lock has expired; with a 2 s timeout and a 90 s lock it would meet the lock on
/// every receive and reach the DLQ. Three timeouts: a live holder keeps its lock while a slow
/// invocation on a loaded machine outlives the shortened timeout, and a batch whose invocation
/// failed stays hidden that long ([`lock_seconds`]), so it comes back to an expired lock.
fn lock_within_visibility(env: &mut BTreeMap<String, String>, seconds: i32) {
    let Some(lock) = env.get(LOCK_SECONDS).and_then(|v| v.parse::<i64>().ok()) else {
        return;
    };
    let shortened = lock.min(i64::from(lock_seconds(seconds)));
    env.insert(LOCK_SECONDS.into(), shortened.to_string());
}

/// The longest lock with the visibility timeout shortened to `seconds`. A batch whose
/// invocation failed stays hidden this long: on AWS the queue's timeout (120 s) outlasts the
/// lock (90 s), so a crashed process's records come back to expired locks and a crash costs one
/// receive; after the shortened timeout alone they would meet the dead holder's lock on up to
/// three more receives and could reach the DLQ through crashes AWS would have absorbed.
fn lock_seconds(seconds: i32) -> i32 {
    LOCK_TIMEOUTS * seconds.max(1)
}

/// For each enabled SQS event source, one poller per batch in flight (`--batches-in-flight`);
/// all of a function's pollers share its processes, so no more batches run at once than it has.
fn start_mappings(
    f: &Function,
    handle: &FunctionHandle,
    w: &Wiring<'_>,
) -> Result<Vec<JoinHandle<()>>, UpError> {
    let mut tasks = Vec::new();
    let slots = Arc::new(Semaphore::new(w.options.instances.max(1)));
    for sqs in f.sqs_events().filter(|s| s.enabled) {
        let (Some(url), Some(arn)) = (
            w.deployment.queue_url(&sqs.queue),
            w.deployment.queue_arn(&sqs.queue),
        ) else {
            return Err(UpError::Function {
                function: f.binary.clone(),
                message: format!(
                    "its SQS event names {}, which is not a queue in the template",
                    sqs.queue
                ),
            });
        };
        let mapping = esm::Mapping {
            queue_url: url.to_owned(),
            queue_arn: arn.to_owned(),
            batch_size: usize::try_from(sqs.batch_size).unwrap_or(10),
            batching_window: Duration::from_secs(sqs.maximum_batching_window_seconds),
            report_batch_item_failures: sqs.reports_batch_item_failures(),
            visibility_timeout: w.options.visibility_timeout,
            after_failed_invocation: w.options.visibility_timeout.map(lock_seconds),
            region: REGION.into(),
            faults: w.faults.sharing(w.options.esm_faults.clone()),
            slots: slots.clone(),
        };
        for _ in 0..w.options.batches_in_flight.max(1) {
            tasks.push(tokio::spawn(esm::run(
                handle.clone(),
                w.queues.clone(),
                mapping.clone(),
                w.logs.clone(),
                w.shutdown.clone(),
            )));
        }
    }
    Ok(tasks)
}

/// What the local cloud runs a function with: its [`environment`], and unless the API checks
/// tokens (`--auth`), `REQUIRE_AUTH=false`.
pub fn cloud_environment(
    function: &Function,
    d: &Deployment,
    endpoint: &str,
    auth: bool,
) -> Result<BTreeMap<String, String>, UpError> {
    let mut env = environment(function, d, endpoint)?;
    if !auth {
        env.insert(REQUIRE_AUTH.into(), "false".into());
    }
    Ok(env)
}

/// The function's environment as the template declares it, resolved against the deployment,
/// with Lambda's logging variables and the local endpoint and credentials.
pub fn environment(
    function: &Function,
    d: &Deployment,
    endpoint: &str,
) -> Result<BTreeMap<String, String>, UpError> {
    let mut env = BTreeMap::new();
    for (k, v) in &function.environment {
        let value = v.resolve_string(d).map_err(|e| UpError::Function {
            function: function.binary.clone(),
            message: format!("environment variable {k}: {e}"),
        })?;
        env.insert(k.clone(), value);
    }
    let logging = function.properties.get("LoggingConfig");
    if let Some(format) = logging
        .and_then(|l| l.get("LogFormat"))
        .and_then(|v| v.resolve_string(d).ok())
    {
        env.insert("AWS_LAMBDA_LOG_FORMAT".into(), format);
    }
    if let Some(level) = logging
        .and_then(|l| l.get("ApplicationLogLevel"))
        .and_then(|v| v.resolve_string(d).ok())
    {
        env.insert("AWS_LAMBDA_LOG_LEVEL".into(), level);
    }
    for (k, v) in [
        ("AWS_REGION", REGION),
        ("AWS_DEFAULT_REGION", REGION),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_ENDPOINT_URL", endpoint),
    ] {
        env.insert(k.into(), v.into());
    }
    Ok(env)
}

/// The table a function's environment names with `var` (e.g. `INVENTORY_TABLE`).
pub fn table_from_env(functions: &[Function], d: &Deployment, var: &str) -> Option<String> {
    functions.iter().find_map(|f| {
        f.environment
            .get(var)
            .and_then(|v: &Value| v.resolve_string(d).ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shortened_visibility_timeout_shortens_a_longer_lock_and_only_a_lock() {
        let mut env = BTreeMap::from([
            (LOCK_SECONDS.to_owned(), "90".to_owned()),
            ("OTHER".to_owned(), "90".to_owned()),
        ]);
        lock_within_visibility(&mut env, 4);
        assert_eq!(env[LOCK_SECONDS], "12", "three timeouts");
        assert_eq!(env["OTHER"], "90");
        lock_within_visibility(&mut env, 30);
        assert_eq!(env[LOCK_SECONDS], "12", "a lock already within it stays");
        let mut without = BTreeMap::new();
        lock_within_visibility(&mut without, 4);
        assert!(without.is_empty(), "a function without a lock gets none");
    }
}
