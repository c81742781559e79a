//! Crash between steps (`ORDERFLOW_FAULTS=crash_between_steps=N`): an interceptor on each SDK
//! client that ends the process right after a write call's answer arrived and before the code
//! acts on it. That is where a Lambda process really dies between two steps: after the
//! reservation's transaction and before its event is published, after the provider's write and
//! before the settlement, after `PublishBatch` and before the keys are completed. The handlers
//! have no branch for it: the crash comes out of the client they call. Compiled in only with the
//! `local-cloud` feature, which deployment builds never enable.
//!
//! Seeded (`ORDERFLOW_FAULT_SEED`): whether the n-th successful write call of a process ends it
//! is a hash of the seed, the process (the function's name and `AWS_LAMBDA_LOG_STREAM_NAME`,
//! which the local cloud, as Lambda, gives each process its own) and n. A restarted process rolls anew rather than
//! dying again at the same call.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

use crate::config::Lookup;
use crate::faults::{Fault, Faults};
use crate::telemetry::messages::{fault, INJECTED_FAULT};

/// The exit status of a process ended between steps (the batch crash's is 70).
pub const EXIT_STATUS: i32 = 71;

/// The variables naming the process: the function, and its log stream (one per execution
/// environment).
pub const PROCESS_VARIABLES: [&str; 2] = ["AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_LOG_STREAM_NAME"];

/// The operations of the SDKs the functions use that change something.
const WRITES: [&str; 10] = [
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "TransactWriteItems",
    "BatchWriteItem",
    "PutEvents",
    "Publish",
    "PublishBatch",
    "SendMessage",
    "SendMessageBatch",
];

/// Whether `operation` (as the SDK names it) writes: only a write's answer is a step's end.
pub fn is_write(operation: &str) -> bool {
    WRITES.contains(&operation)
}

/// What ends the process; a test puts a recorder here.
type End = Arc<dyn Fn(&str, &str) + Send + Sync>;

/// The interceptor. Clones share the count of write calls: one per process.
#[derive(Clone)]
pub struct CrashBetweenSteps {
    faults: Faults,
    process: Arc<str>,
    writes: Arc<AtomicU64>,
    end: End,
}

impl fmt::Debug for CrashBetweenSteps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CrashBetweenSteps")
            .field("process", &self.process)
            .field("writes", &self.writes.load(Ordering::SeqCst))
            .finish_non_exhaustive()
    }
}

impl CrashBetweenSteps {
    /// The interceptor of the process `process`; `None` when `faults` asks for no crash
    /// between steps.
    pub fn new(faults: Faults, process: &str) -> Option<CrashBetweenSteps> {
        faults
            .injects(Fault::CrashBetweenSteps)
            .then(|| CrashBetweenSteps {
                faults,
                process: process.into(),
                writes: Arc::new(AtomicU64::new(0)),
                end: Arc::new(exit),
            })
    }

    /// From `ORDERFLOW_FAULTS`, `ORDERFLOW_FAULT_SEED`, the function's name and the process's
    /// log stream. A
    /// spec that does not parse injects nothing here (the consumers' own configuration refuses
    /// it at start, naming it).
    pub fn from_lookup(lookup: Lookup<'_>) -> Option<CrashBetweenSteps> {
        let faults = Faults::from_lookup(lookup).ok()?;
        let process: Vec<String> = PROCESS_VARIABLES
            .iter()
            .map(|name| lookup(name).unwrap_or_default())
            .collect();
        CrashBetweenSteps::new(faults, &process.join("/"))
    }

    /// The same choices, with `end` called instead of ending the process.
    #[cfg(test)]
    fn ending_with(self, end: impl Fn(&str, &str) + Send + Sync + 'static) -> Self {
        CrashBetweenSteps {
            end: Arc::new(end),
            ..self
        }
    }

    /// Whether the process ends after this successful call: every write call is counted and
    /// rolls once; other calls never end it.
    pub fn ends_after(&self, operation: &str) -> bool {
        if !is_write(operation) {
            return false;
        }
        let n = self.writes.fetch_add(1, Ordering::SeqCst);
        self.faults
            .hits(Fault::CrashBetweenSteps, &format!("{}#{n}", self.process))
    }
}

/// One line, then the process ends: a crash, not a panic (nothing unwinds, nothing is flushed
/// but what was written).
fn exit(service: &str, operation: &str) {
    tracing::error!(
        fault = fault::CRASH_BETWEEN_STEPS,
        aws_service = %service,
        aws_operation = %operation,
        "{INJECTED_FAULT}: the process exits after {operation} answered, before acting on it"
    );
    std::process::exit(EXIT_STATUS);
}

impl Intercept for CrashBetweenSteps {
    fn name(&self) -> &'static str {
        "CrashBetweenSteps"
    }

    /// After the call and its retries: only a call that succeeded took effect for its caller.
    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if !matches!(context.output_or_error(), Some(Ok(_))) {
            return Ok(());
        }
        if let Some(metadata) = cfg.load::<Metadata>() {
            if self.ends_after(metadata.name()) {
                (self.end)(metadata.service(), metadata.name());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // test helpers: a failure is a failed test
mod tests;
