//! The Lambda side of the local cloud: each function's real `bootstrap` binary, run as one or
//! more processes, each against its own local Lambda Runtime API
//! (`/2018-06-01/runtime/invocation/next`, `/response`, `/error`, `/init/error`).
//!
//! Like Lambda, a process handles one invocation at a time, is given a deadline, is killed
//! when it runs past its `Timeout`, and is started again when it exits.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot, watch, Mutex};

use super::logs::LogSink;
use super::messages::PROCESS_EXITED;
use crate::trace::record::{InvocationOutcome, TraceRecord};

/// Why an invocation produced no response.
#[derive(Debug, Clone, thiserror::Error)]
pub enum InvokeError {
    #[error("function error {error_type}: {message}")]
    Function { error_type: String, message: String },
    #[error("task timed out after {0:?}")]
    Timeout(Duration),
    #[error("the function process exited during the invocation ({0})")]
    Crashed(String),
    #[error("the local cloud is shutting down")]
    ShuttingDown,
}

struct Invocation {
    payload: Bytes,
    reply: oneshot::Sender<Result<Bytes, InvokeError>>,
}

/// What `main` of the local cloud needs to start one function.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    /// The function name processes see (`AWS_LAMBDA_FUNCTION_NAME`) and logs show.
    pub name: String,
    pub binary: PathBuf,
    pub env: BTreeMap<String, String>,
    pub timeout: Duration,
    pub memory_mb: u64,
    /// Processes to run side by side (Lambda's concurrency).
    pub instances: usize,
}

/// Invokes a function: queues the payload for whichever of its processes asks next.
#[derive(Clone)]
pub struct FunctionHandle {
    pub name: String,
    tx: mpsc::Sender<Invocation>,
    /// Invocations asked for and not yet answered (queued for a process or running): what the
    /// console shows as the function's in-flight invocations.
    in_flight: Arc<AtomicUsize>,
}

impl FunctionHandle {
    /// A handle whose function never answers (for tests of the parts around it).
    #[cfg(test)]
    pub fn for_tests(name: &str) -> FunctionHandle {
        let (tx, _rx) = mpsc::channel(1);
        FunctionHandle {
            name: name.to_owned(),
            tx,
            in_flight: Arc::default(),
        }
    }

    /// A handle whose function answers `{}` at once, and the payloads it was given (for tests
    /// of what invokes it).
    #[cfg(test)]
    pub fn recording(name: &str) -> (FunctionHandle, mpsc::UnboundedReceiver<Bytes>) {
        let (tx, mut rx) = mpsc::channel::<Invocation>(16);
        let (seen, payloads) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(invocation) = rx.recv().await {
                let _ = seen.send(invocation.payload);
                let _ = invocation.reply.send(Ok(Bytes::from_static(b"{}")));
            }
        });
        let handle = FunctionHandle {
            name: name.to_owned(),
            tx,
            in_flight: Arc::default(),
        };
        (handle, payloads)
    }

    /// A handle whose invocations `serve` answers, each in a task of its own, as many at once
    /// as are asked (for tests of the parts around a function).
    #[cfg(test)]
    pub fn served_by<F, Fut>(name: &str, serve: F) -> FunctionHandle
    where
        F: Fn(Bytes) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<Bytes, InvokeError>> + Send + 'static,
    {
        let (tx, mut rx) = mpsc::channel::<Invocation>(1024);
        tokio::spawn(async move {
            while let Some(Invocation { payload, reply }) = rx.recv().await {
                let answer = serve(payload);
                tokio::spawn(async move {
                    let _ = reply.send(answer.await);
                });
            }
        });
        FunctionHandle {
            name: name.to_owned(),
            tx,
            in_flight: Arc::default(),
        }
    }

    pub async fn invoke(&self, payload: Bytes) -> Result<Bytes, InvokeError> {
        let _counted = Counted::new(&self.in_flight);
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Invocation { payload, reply })
            .await
            .map_err(|_| InvokeError::ShuttingDown)?;
        rx.await.unwrap_or(Err(InvokeError::ShuttingDown))
    }
}

impl FunctionHandle {
    /// Invocations asked for and not answered yet.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }
}

/// One more in flight while it lives (a dropped `invoke` future counts down too).
struct Counted<'a>(&'a AtomicUsize);

impl<'a> Counted<'a> {
    fn new(n: &'a AtomicUsize) -> Counted<'a> {
        n.fetch_add(1, Ordering::Relaxed);
        Counted(n)
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

struct InFlight {
    request_id: String,
    reply: oneshot::Sender<Result<Bytes, InvokeError>>,
    /// When the process took it (for the trace's record of the invocation).
    at: chrono::DateTime<chrono::Utc>,
    started: tokio::time::Instant,
}

/// The start of Lambda's `REPORT` line, which the local runtime logs after every invocation as
/// Lambda does (what `orderflow load` bills: invocations, billed duration, memory).
pub const REPORT: &str = "REPORT RequestId: ";

/// Lambda's `REPORT` line: the duration, billed rounded up to the millisecond, at the memory size.
#[allow(clippy::float_arithmetic)] // milliseconds from seconds
pub fn report_line(request_id: &str, took: Duration, memory_mb: u64) -> String {
    let ms = took.as_secs_f64() * 1000.0;
    format!(
        "{REPORT}{request_id}\tDuration: {ms:.2} ms\tBilled Duration: {} ms\tMemory Size: {memory_mb} MB",
        took.as_micros().div_ceil(1000).max(1)
    )
}

struct InstanceState {
    function: String,
    timeout: Duration,
    memory_mb: u64,
    queue: Arc<Mutex<mpsc::Receiver<Invocation>>>,
    in_flight: Mutex<Option<InFlight>>,
    /// Told the deadline of the invocation handed out, so the supervisor can enforce it.
    deadline_tx: watch::Sender<Option<tokio::time::Instant>>,
    logs: LogSink,
    /// Counts processes that have asked for work at least once (readiness).
    ready: Arc<AtomicUsize>,
    polled: AtomicBool,
    /// Bumped whenever the process ends: a `/next` still waiting for work on behalf of a
    /// process that is gone stops waiting, so it cannot take an invocation nobody will run.
    retired: watch::Sender<u64>,
    /// The function's queue, to hand back an invocation a process ended before taking (weak:
    /// the queue still closes when every handle is gone).
    requeue: mpsc::WeakSender<Invocation>,
    /// The process is due for replacement: it is given no new invocation.
    draining: AtomicBool,
}

impl InstanceState {
    /// The trace's record of an invocation that ended with `outcome`.
    fn record(&self, f: &InFlight, outcome: &Result<Bytes, InvokeError>) {
        let (outcome, error) = match outcome {
            Ok(_) => (InvocationOutcome::Ok, None),
            Err(e @ InvokeError::Timeout(_)) => (InvocationOutcome::Timeout, Some(e.to_string())),
            Err(e @ InvokeError::Crashed(_)) => (InvocationOutcome::Crashed, Some(e.to_string())),
            Err(e) => (InvocationOutcome::Error, Some(e.to_string())),
        };
        self.logs.record(&TraceRecord::Invocation {
            at: f.at,
            function: self
                .function
                .split('#')
                .next()
                .unwrap_or_default()
                .to_owned(),
            request_id: f.request_id.clone(),
            duration_ms: u64::try_from(f.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            outcome,
            error,
        });
    }

    async fn finish(&self, request_id: &str, outcome: Result<Bytes, InvokeError>) -> bool {
        let mut slot = self.in_flight.lock().await;
        match slot.take() {
            Some(f) if f.request_id == request_id => {
                self.record(&f, &outcome);
                self.report(&f);
                let _ = f.reply.send(outcome);
                let _ = self.deadline_tx.send(None);
                true
            }
            other => {
                *slot = other;
                false
            }
        }
    }

    fn report(&self, f: &InFlight) {
        self.logs.line(
            &self.function,
            &report_line(&f.request_id, f.started.elapsed(), self.memory_mb),
        );
    }

    async fn fail_in_flight(&self, error: InvokeError) {
        if let Some(f) = self.in_flight.lock().await.take() {
            let error = Err(error);
            self.record(&f, &error);
            self.report(&f);
            let _ = f.reply.send(error);
        }
        let _ = self.deadline_tx.send(None);
    }

    /// Retires the process if it runs no invocation, so that it takes none before it is
    /// replaced; false when it runs one (to be replaced after it).
    async fn retire_if_idle(&self) -> bool {
        let slot = self.in_flight.lock().await;
        if slot.is_some() {
            return false;
        }
        // A `/next` sent after this (the process still runs until killed) takes nothing.
        self.draining.store(true, Ordering::SeqCst);
        self.retired.send_modify(|n| *n = n.wrapping_add(1));
        true
    }

    /// An invocation a process ended before taking goes back to the queue for another process
    /// (it never started); failed only when the queue is gone or full.
    fn hand_back(&self, invocation: Invocation) {
        let Some(queue) = self.requeue.upgrade() else {
            let _ = invocation.reply.send(Err(InvokeError::ShuttingDown));
            return;
        };
        if let Err(e) = queue.try_send(invocation) {
            let invocation = match e {
                mpsc::error::TrySendError::Full(i) | mpsc::error::TrySendError::Closed(i) => i,
            };
            let _ = invocation.reply.send(Err(InvokeError::Crashed(
                "the process ended before it took the invocation".into(),
            )));
        }
    }

    /// The process has ended: fails what it was running and stops any `/next` it left waiting.
    /// Under the in-flight lock, so a `/next` either hands its invocation over before this
    /// (and it is failed here) or sees the process gone and fails it itself.
    async fn retire(&self, error: InvokeError) {
        let mut slot = self.in_flight.lock().await;
        self.retired.send_modify(|n| *n = n.wrapping_add(1));
        if let Some(f) = slot.take() {
            let error = Err(error);
            self.record(&f, &error);
            self.report(&f);
            let _ = f.reply.send(error);
        }
        let _ = self.deadline_tx.send(None);
    }
}

const ACCOUNT: &str = "123456789012";

async fn next(State(s): State<Arc<InstanceState>>) -> Response {
    if !s.polled.swap(true, Ordering::SeqCst) {
        s.ready.fetch_add(1, Ordering::SeqCst);
    }
    // One invocation at a time per process, as in Lambda.
    let mut retired = s.retired.subscribe();
    let invocation = tokio::select! {
        invocation = async {
            if s.draining.load(Ordering::SeqCst) {
                std::future::pending::<()>().await;
            }
            s.queue.lock().await.recv().await
        } => invocation,
        _ = retired.changed() => return (StatusCode::GONE, "process ended").into_response(),
    };
    let Some(invocation) = invocation else {
        return (StatusCode::GONE, "shutting down").into_response();
    };
    let request_id = uuid::Uuid::new_v4().to_string();
    let deadline = tokio::time::Instant::now() + s.timeout;
    let deadline_ms = chrono::Utc::now().timestamp_millis()
        + i64::try_from(s.timeout.as_millis()).unwrap_or(i64::MAX);
    {
        let mut slot = s.in_flight.lock().await;
        if retired.has_changed().unwrap_or(true) || s.draining.load(Ordering::SeqCst) {
            s.hand_back(invocation);
            return (StatusCode::GONE, "process ended").into_response();
        }
        *slot = Some(InFlight {
            request_id: request_id.clone(),
            reply: invocation.reply,
            at: chrono::Utc::now(),
            started: tokio::time::Instant::now(),
        });
        // Under the lock too: a deadline told after `retire` would time out the next process.
        let _ = s.deadline_tx.send(Some(deadline));
    }
    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    };
    put("lambda-runtime-aws-request-id", request_id);
    put("lambda-runtime-deadline-ms", deadline_ms.to_string());
    put(
        "lambda-runtime-invoked-function-arn",
        format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:{}", s.function),
    );
    // A valid X-Ray header, as Lambda gives with active tracing: validate-order starts the
    // order's trace from it.
    put(
        "lambda-runtime-trace-id",
        orderflow_shared::events::TraceContext::new_root().to_xray_header(),
    );
    put("content-type", "application/json".into());
    (StatusCode::OK, headers, invocation.payload).into_response()
}

async fn response(
    State(s): State<Arc<InstanceState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    if s.finish(&id, Ok(body)).await {
        StatusCode::ACCEPTED
    } else {
        StatusCode::BAD_REQUEST
    }
}

#[derive(serde::Deserialize, Default)]
struct ErrorBody {
    #[serde(rename = "errorType", default)]
    error_type: String,
    #[serde(rename = "errorMessage", default)]
    error_message: String,
}

fn parse_error(headers: &HeaderMap, body: &[u8]) -> InvokeError {
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let header_type = headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("Unhandled");
    InvokeError::Function {
        error_type: if parsed.error_type.is_empty() {
            header_type.to_owned()
        } else {
            parsed.error_type
        },
        message: if parsed.error_message.is_empty() {
            String::from_utf8_lossy(body).into_owned()
        } else {
            parsed.error_message
        },
    }
}

async fn error(
    State(s): State<Arc<InstanceState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    if s.finish(&id, Err(parse_error(&headers, &body))).await {
        StatusCode::ACCEPTED
    } else {
        StatusCode::BAD_REQUEST
    }
}

async fn init_error(
    State(s): State<Arc<InstanceState>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let e = parse_error(&headers, &body);
    s.logs.line(&s.function, &format!("init error: {e}"));
    StatusCode::ACCEPTED
}

/// What replaces a function's processes between invocations while the cloud runs.
pub struct Replacements {
    /// Environment added to every process; a change replaces them (`stop_faults`).
    pub extra_env: watch::Receiver<BTreeMap<String, String>>,
    /// Goes up when the binary is rebuilt ([`super::hot_reload`]).
    pub rebuilt: watch::Receiver<u64>,
}

/// Starts `spec.instances` processes of one function and returns the handle that invokes it.
pub async fn start_function(
    spec: FunctionSpec,
    logs: LogSink,
    shutdown: watch::Receiver<bool>,
    ready: Arc<AtomicUsize>,
    replacements: Replacements,
) -> std::io::Result<FunctionHandle> {
    let (tx, rx) = mpsc::channel::<Invocation>(1024);
    let queue = Arc::new(Mutex::new(rx));
    for index in 0..spec.instances.max(1) {
        let (deadline_tx, deadline_rx) = watch::channel(None);
        let state = Arc::new(InstanceState {
            function: spec.name.clone(),
            timeout: spec.timeout,
            memory_mb: spec.memory_mb,
            queue: queue.clone(),
            in_flight: Mutex::new(None),
            deadline_tx,
            logs: logs.clone(),
            ready: ready.clone(),
            polled: AtomicBool::new(false),
            retired: watch::channel(0).0,
            requeue: tx.downgrade(),
            draining: AtomicBool::new(false),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let mut server_shutdown = shutdown.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = server_shutdown.wait_for(|s| *s).await;
                })
                .await;
        });
        tokio::spawn(supervise(
            spec.clone(),
            index,
            addr.to_string(),
            state,
            deadline_rx,
            shutdown.clone(),
            Replacements {
                extra_env: replacements.extra_env.clone(),
                rebuilt: replacements.rebuilt.clone(),
            },
        ));
    }
    Ok(FunctionHandle {
        name: spec.name,
        tx,
        in_flight: Arc::default(),
    })
}

/// The log stream of the `start`-th process of instance `index`: one per process, as Lambda
/// gives each execution environment its own; the functions' seeded faults key on it, so a
/// restarted process makes its own choices.
pub fn log_stream(index: usize, start: u64) -> String {
    format!("local/{index}/{start}")
}

fn spawn_process(
    spec: &FunctionSpec,
    extra_env: &BTreeMap<String, String>,
    runtime_api: &str,
    log_stream: &str,
) -> std::io::Result<Child> {
    let mut cmd = Command::new(&spec.binary);
    cmd.env_clear();
    for key in ["PATH", "HOME", "TZ", "LANG"] {
        if let Ok(v) = std::env::var(key) {
            cmd.env(key, v);
        }
    }
    cmd.envs(&spec.env)
        .envs(extra_env)
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", &spec.name)
        .env(
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            spec.memory_mb.to_string(),
        )
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{}", spec.name),
        )
        .env("AWS_LAMBDA_LOG_STREAM_NAME", log_stream)
        .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd.spawn()
}

fn pipe_lines<R: tokio::io::AsyncRead + Unpin + Send + 'static>(
    reader: R,
    name: String,
    logs: LogSink,
) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(reader).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            logs.function_line(&name, &line);
        }
    });
}

/// What a function process is watched through while it runs.
struct Signals {
    /// The deadline of the invocation in flight, if any.
    deadline: watch::Receiver<Option<tokio::time::Instant>>,
    shutdown: watch::Receiver<bool>,
    /// The extra environment; a change replaces the process between invocations.
    extra_env: watch::Receiver<BTreeMap<String, String>>,
    /// Whether the environment can still change (its sender is alive).
    env_open: bool,
    /// Goes up when the binary is rebuilt; a change replaces the process between invocations.
    rebuilt: watch::Receiver<u64>,
    rebuilt_open: bool,
}

/// How one process ended.
enum Ended {
    /// The local cloud is shutting down: the process is killed and its instance retired.
    ShuttingDown,
    /// It exited, was killed past its deadline, or was replaced after an environment change.
    Ended { reason: InvokeError, replaced: bool },
}

/// Runs one process of a function for as long as the local cloud runs: restarts it when it
/// exits, kills it when an invocation passes its deadline, fails that invocation either way.
/// When the extra environment changes, the process is replaced once it is between invocations
/// (as Lambda replaces its execution environments after a configuration update).
async fn supervise(
    spec: FunctionSpec,
    index: usize,
    runtime_api: String,
    state: Arc<InstanceState>,
    deadline: watch::Receiver<Option<tokio::time::Instant>>,
    shutdown: watch::Receiver<bool>,
    replacements: Replacements,
) {
    let label = if spec.instances > 1 {
        format!("{}#{index}", spec.name)
    } else {
        spec.name.clone()
    };
    let mut signals = Signals {
        deadline,
        shutdown,
        extra_env: replacements.extra_env,
        env_open: true,
        rebuilt: replacements.rebuilt,
        rebuilt_open: true,
    };
    let mut restarts: u32 = 0;
    let mut starts: u64 = 0;
    loop {
        if *signals.shutdown.borrow() {
            return;
        }
        let env = signals.extra_env.borrow_and_update().clone();
        signals.rebuilt.borrow_and_update();
        state.draining.store(false, Ordering::SeqCst);
        let stream = log_stream(index, starts);
        starts += 1;
        let mut child = match spawn_process(&spec, &env, &runtime_api, &stream) {
            Ok(child) => child,
            Err(e) => {
                state.logs.line(
                    &label,
                    &format!("cannot start {}: {e}", spec.binary.display()),
                );
                state
                    .fail_in_flight(InvokeError::Crashed(e.to_string()))
                    .await;
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
        };
        if let Some(out) = child.stdout.take() {
            pipe_lines(out, label.clone(), state.logs.clone());
        }
        if let Some(err) = child.stderr.take() {
            pipe_lines(err, label.clone(), state.logs.clone());
        }
        let started = tokio::time::Instant::now();
        let (reason, replaced) =
            match watch_process(&mut child, &spec, &label, &state, &mut signals).await {
                Ended::ShuttingDown => return,
                Ended::Ended { reason, replaced } => (reason, replaced),
            };
        // A `/next` the ended process sent just before it died (or a child it left behind,
        // as a shell script's curl) may reach the server a moment later: let it arrive, so
        // `retire` stops it instead of it taking the successor's first invocation.
        tokio::time::sleep(Duration::from_millis(100)).await;
        if matches!(reason, InvokeError::Crashed(_)) && !replaced {
            state
                .logs
                .line(&label, &format!("{PROCESS_EXITED} ({reason}); restarting"));
        }
        state.retire(reason).await;
        restarts = if replaced || started.elapsed() > Duration::from_secs(10) {
            1
        } else {
            restarts.saturating_add(1)
        };
        // Back off when a process keeps dying at start (bad config): do not spin.
        let pause = Duration::from_millis(200u64.saturating_mul(u64::from(restarts.min(10))));
        tokio::time::sleep(pause).await;
    }
}

/// Waits until the process ends, passes its invocation's deadline (killed), is due for
/// replacement after an environment change and between invocations (killed), or the local
/// cloud shuts down (killed, its instance retired).
async fn watch_process(
    child: &mut Child,
    spec: &FunctionSpec,
    label: &str,
    state: &InstanceState,
    s: &mut Signals,
) -> Ended {
    let mut replace: Option<&str> = None;
    loop {
        let deadline = *s.deadline.borrow_and_update();
        // Retired first, under the in-flight lock: no invocation is handed to it meanwhile.
        if let Some(why) = replace.filter(|_| deadline.is_none()) {
            if state.retire_if_idle().await {
                state
                    .logs
                    .line(label, &format!("{why}; replacing the process"));
                let _ = child.kill().await;
                return Ended::Ended {
                    reason: InvokeError::Crashed(format!("process replaced: {why}")),
                    replaced: true,
                };
            }
        }
        let timer = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending::<()>().await,
            }
        };
        let (env_open, rebuilt_open) = (s.env_open, s.rebuilt_open);
        let replacing = replace.is_some();
        if replacing {
            state.draining.store(true, Ordering::SeqCst);
        }
        tokio::select! {
            status = child.wait() => {
                let status = status.map_or_else(|e| e.to_string(), |s| s.to_string());
                return Ended::Ended { reason: InvokeError::Crashed(status), replaced: replacing };
            }
            _ = timer => {
                state.logs.line(label, &format!("Task timed out after {:?}; killing the process", spec.timeout));
                let _ = child.kill().await;
                return Ended::Ended { reason: InvokeError::Timeout(spec.timeout), replaced: replacing };
            }
            changed = s.deadline.changed() => {
                if changed.is_err() {
                    return Ended::Ended { reason: InvokeError::ShuttingDown, replaced: replacing };
                }
            }
            changed = s.extra_env.changed(), if env_open && !replacing => {
                match changed {
                    Ok(()) => replace = Some("environment changed"),
                    // Closed: the environment can no longer change.
                    Err(_) => s.env_open = false,
                }
            }
            changed = s.rebuilt.changed(), if rebuilt_open && !replacing => {
                match changed {
                    Ok(()) => replace = Some("binary rebuilt"),
                    Err(_) => s.rebuilt_open = false,
                }
            }
            _ = super::stopped(&mut s.shutdown) => {
                let _ = child.kill().await;
                state.retire(InvokeError::ShuttingDown).await;
                return Ended::ShuttingDown;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[tokio::test]
    async fn an_invocation_is_in_flight_from_the_call_until_its_answer() {
        let (release, released) = tokio::sync::watch::channel(false);
        let handle = FunctionHandle::served_by("f", move |_| {
            let mut released = released.clone();
            async move {
                let _ = released.wait_for(|r| *r).await;
                Ok(Bytes::from_static(b"{}"))
            }
        });
        assert_eq!(handle.in_flight(), 0);
        let calls: Vec<_> = (0..3)
            .map(|_| {
                let h = handle.clone();
                tokio::spawn(async move { h.invoke(Bytes::from_static(b"{}")).await })
            })
            .collect();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while handle.in_flight() < 3 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(handle.in_flight(), 3, "every clone shares the count");
        release.send_replace(true);
        for call in calls {
            assert!(call.await.unwrap().is_ok());
        }
        assert_eq!(handle.in_flight(), 0);
    }

    /// A stand-in function: a shell script speaking the Runtime API with curl.
    fn script(body: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!("orderflow-fn-{}.sh", uuid::Uuid::new_v4()));
        std::fs::write(
            &path,
            format!(
                "#!/bin/sh\nAPI=\"http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime\"\n{body}\n"
            ),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    async fn start(
        body: &str,
        timeout: Duration,
    ) -> (FunctionHandle, watch::Sender<bool>, Arc<AtomicUsize>) {
        let (handle, stop, ready, _env) = start_with_env(body, timeout).await;
        (handle, stop, ready)
    }

    async fn start_with_env(
        body: &str,
        timeout: Duration,
    ) -> (
        FunctionHandle,
        watch::Sender<bool>,
        Arc<AtomicUsize>,
        watch::Sender<BTreeMap<String, String>>,
    ) {
        let (stop, shutdown) = watch::channel(false);
        let (env, env_rx) = watch::channel(BTreeMap::new());
        let ready = Arc::new(AtomicUsize::new(0));
        let spec = FunctionSpec {
            name: "test-fn".into(),
            binary: script(body),
            env: BTreeMap::new(),
            timeout,
            memory_mb: 128,
            instances: 1,
        };
        let replacements = Replacements {
            extra_env: env_rx,
            rebuilt: watch::channel(0).1,
        };
        let handle = start_function(
            spec,
            LogSink::new(None),
            shutdown,
            ready.clone(),
            replacements,
        )
        .await
        .unwrap();
        (handle, stop, ready, env)
    }

    /// Echoes each payload back as the response.
    const ECHO: &str = r#"while true; do
  curl -s -D /tmp/$$.h -o /tmp/$$.b "$API/invocation/next" || exit 1
  ID=$(grep -i lambda-runtime-aws-request-id /tmp/$$.h | cut -d' ' -f2 | tr -d '\r')
  curl -s -X POST --data-binary @/tmp/$$.b "$API/invocation/$ID/response" >/dev/null
done"#;

    #[test]
    fn the_report_line_bills_whole_milliseconds_at_the_memory_size() {
        let line = report_line("r-1", Duration::from_micros(12_340), 128);
        assert_eq!(
            line,
            "REPORT RequestId: r-1\tDuration: 12.34 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB"
        );
        assert!(report_line("r", Duration::ZERO, 128).contains("Billed Duration: 1 ms"));
    }

    #[tokio::test]
    async fn an_invocation_returns_what_the_function_responds() {
        let (f, stop, ready) = start(ECHO, Duration::from_secs(5)).await;
        let out = f
            .invoke(Bytes::from_static(b"{\"hello\":1}"))
            .await
            .unwrap();
        assert_eq!(&out[..], b"{\"hello\":1}");
        assert_eq!(ready.load(Ordering::SeqCst), 1);
        let _ = stop.send(true);
    }

    #[tokio::test]
    async fn a_function_error_is_reported_with_its_type_and_message() {
        let body = r#"while true; do
  curl -s -D /tmp/$$.h -o /dev/null "$API/invocation/next" || exit 1
  ID=$(grep -i lambda-runtime-aws-request-id /tmp/$$.h | cut -d' ' -f2 | tr -d '\r')
  curl -s -X POST -d '{"errorType":"Boom","errorMessage":"it broke"}' "$API/invocation/$ID/error" >/dev/null
done"#;
        let (f, stop, _) = start(body, Duration::from_secs(5)).await;
        match f.invoke(Bytes::from_static(b"{}")).await {
            Err(InvokeError::Function {
                error_type,
                message,
            }) => {
                assert_eq!(error_type, "Boom");
                assert_eq!(message, "it broke");
            }
            other => panic!("expected a function error, got {other:?}"),
        }
        let _ = stop.send(true);
    }

    #[tokio::test]
    async fn a_function_past_its_timeout_is_killed_and_its_invocation_fails() {
        // Takes the invocation, then hangs.
        let body = r#"curl -s -o /dev/null "$API/invocation/next"; exec sleep 30"#;
        let (f, stop, _) = start(body, Duration::from_millis(500)).await;
        let started = std::time::Instant::now();
        let result = f.invoke(Bytes::from_static(b"{}")).await;
        assert!(matches!(result, Err(InvokeError::Timeout(_))), "{result:?}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "killed at the deadline, not after the sleep"
        );
        let _ = stop.send(true);
    }

    #[tokio::test]
    async fn a_process_that_exits_mid_invocation_fails_it_and_is_started_again() {
        // Exits after taking an invocation; the restarted process serves the next one.
        let marker =
            std::env::temp_dir().join(format!("orderflow-crashed-{}", uuid::Uuid::new_v4()));
        let body = format!(
            "if [ ! -e {m} ]; then touch {m}; curl -s -o /dev/null \"$API/invocation/next\"; exit 3; fi\n{ECHO}",
            m = marker.display()
        );
        let (f, stop, _) = start(&body, Duration::from_secs(5)).await;
        let first = f.invoke(Bytes::from_static(b"1")).await;
        assert!(matches!(first, Err(InvokeError::Crashed(_))), "{first:?}");
        let second = f.invoke(Bytes::from_static(b"2")).await.unwrap();
        assert_eq!(&second[..], b"2");
        let _ = stop.send(true);
        let _ = std::fs::remove_file(marker);
    }

    #[tokio::test]
    async fn each_process_start_has_a_log_stream_of_its_own() {
        // Answers with its log stream, then exits: the next invocation meets a new process.
        let body = r#"curl -s -D /tmp/$$.h -o /dev/null "$API/invocation/next" || exit 1
ID=$(grep -i lambda-runtime-aws-request-id /tmp/$$.h | cut -d' ' -f2 | tr -d '\r')
curl -s -X POST -d "\"$AWS_LAMBDA_LOG_STREAM_NAME\"" "$API/invocation/$ID/response" >/dev/null
exit 0"#;
        let (f, stop, _) = start(body, Duration::from_secs(5)).await;
        let mut streams = Vec::new();
        while streams.len() < 2 {
            if let Ok(out) = f.invoke(Bytes::from_static(b"{}")).await {
                streams.push(String::from_utf8_lossy(&out).into_owned());
            }
        }
        assert_eq!(
            streams,
            [
                format!("\"{}\"", log_stream(0, 0)),
                format!("\"{}\"", log_stream(0, 1))
            ]
        );
        let _ = stop.send(true);
    }

    /// A function answering every invocation with `answer` after a moment's work, written
    /// where `path` is as cargo writes a build: the old file removed, a new one in its place.
    fn build_at(path: &std::path::Path, answer: &str) {
        let _ = std::fs::remove_file(path);
        let body = format!(
            r#"#!/bin/sh
API="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
while true; do
  curl -s -D /tmp/$$.h -o /dev/null "$API/invocation/next" || exit 1
  ID=$(grep -i lambda-runtime-aws-request-id /tmp/$$.h | cut -d' ' -f2 | tr -d '\r')
  sleep 0.05
  curl -s -X POST -d '"{answer}"' "$API/invocation/$ID/response" >/dev/null
done
"#
        );
        std::fs::write(path, body).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[tokio::test]
    async fn a_rebuilt_binary_replaces_the_processes_between_invocations_and_loses_none() {
        let dir = std::env::temp_dir().join(format!("orderflow-rebuilt-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let binary = dir.join("bootstrap");
        build_at(&binary, "old");
        let (stop, shutdown) = watch::channel(false);
        let logs = LogSink::new(None);
        let rebuilt = super::super::hot_reload::watch_binary(
            "test-fn".into(),
            binary.clone(),
            logs.clone(),
            shutdown.clone(),
        );
        let spec = FunctionSpec {
            name: "test-fn".into(),
            binary: binary.clone(),
            env: BTreeMap::new(),
            timeout: Duration::from_secs(5),
            memory_mb: 128,
            instances: 2,
        };
        let (_env, extra_env) = watch::channel(BTreeMap::new());
        let replacements = Replacements { extra_env, rebuilt };
        let f = start_function(
            spec,
            logs,
            shutdown,
            Arc::new(AtomicUsize::new(0)),
            replacements,
        )
        .await
        .unwrap();
        assert_eq!(
            &f.invoke(Bytes::from_static(b"{}")).await.unwrap()[..],
            b"\"old\""
        );
        // Invocations keep coming, several at once, while the binary is rebuilt.
        let callers: Vec<_> = (0..4)
            .map(|_| {
                let f = f.clone();
                tokio::spawn(async move {
                    let mut answers = Vec::new();
                    let until = tokio::time::Instant::now() + Duration::from_secs(6);
                    while tokio::time::Instant::now() < until {
                        answers.push(f.invoke(Bytes::from_static(b"{}")).await);
                    }
                    answers
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(500)).await;
        build_at(&binary, "new");
        let mut answers = Vec::new();
        for caller in callers {
            answers.extend(caller.await.unwrap());
        }
        let failed: Vec<_> = answers.iter().filter(|a| a.is_err()).collect();
        assert!(failed.is_empty(), "lost in the reload: {failed:?}");
        let last = answers.last().unwrap().as_ref().unwrap();
        assert_eq!(
            &last[..],
            b"\"new\"",
            "the rebuilt binary runs the next invocations"
        );
        assert!(answers
            .iter()
            .any(|a| a.as_ref().is_ok_and(|b| &b[..] == b"\"old\"")));
        let _ = stop.send(true);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_new_environment_replaces_an_idle_process_and_the_next_invocation_sees_it() {
        // Answers every invocation with the value of $GREETING.
        let body = r#"while true; do
  curl -s -D /tmp/$$.h -o /dev/null "$API/invocation/next" || exit 1
  ID=$(grep -i lambda-runtime-aws-request-id /tmp/$$.h | cut -d' ' -f2 | tr -d '\r')
  curl -s -X POST -d "\"${GREETING:-none}\"" "$API/invocation/$ID/response" >/dev/null
done"#;
        let (f, stop, _, env) = start_with_env(body, Duration::from_secs(5)).await;
        assert_eq!(
            &f.invoke(Bytes::from_static(b"{}")).await.unwrap()[..],
            b"\"none\""
        );
        env.send_replace(BTreeMap::from([(
            "GREETING".to_owned(),
            "hello".to_owned(),
        )]));
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            match f.invoke(Bytes::from_static(b"{}")).await {
                Ok(out) if &out[..] == b"\"hello\"" => break,
                // The old process may take one more invocation before it is replaced.
                Ok(_) | Err(InvokeError::Crashed(_)) => {}
                Err(e) => panic!("{e:?}"),
            }
            assert!(
                std::time::Instant::now() < deadline,
                "never saw the new environment"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = stop.send(true);
    }
}
