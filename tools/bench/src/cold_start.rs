//! Cold start: the time from starting a `bootstrap` to its first
//! `GET /2018-06-01/runtime/invocation/next`, against a Runtime API stub on 127.0.0.1.
//!
//! The stub only notes when that request arrives and then holds the connection open; the
//! process is killed (by its pid, through `Child::kill`) once the time is taken. Nothing in the
//! child can reach the internet: the AWS endpoint is an unused loopback port, the credentials
//! are static and instance metadata is switched off.

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::Error;

const NEXT_PATH: &str = "GET /2018-06-01/runtime/invocation/next";

/// One binary to start, under the name its table row shows.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub bootstrap: PathBuf,
}

/// Every measured start of one binary, in milliseconds.
#[derive(Debug, Clone)]
pub struct Samples {
    pub name: String,
    pub ms: Vec<f64>,
}

/// Runs `rounds` rounds; each round starts every target once, round-robin, beginning one
/// target further along each time so no binary always goes first. One unrecorded round comes
/// first, so every binary is read from disk before any time counts.
pub fn measure(
    targets: &[Target],
    rounds: usize,
    scratch: &Path,
    extra_env: &[(String, String)],
) -> Result<Vec<Samples>, Error> {
    let mut samples: Vec<Samples> = targets
        .iter()
        .map(|t| Samples {
            name: t.name.clone(),
            ms: Vec::with_capacity(rounds),
        })
        .collect();
    let home = scratch.join("home");
    std::fs::create_dir_all(&home).map_err(|e| format!("cannot create {}: {e}", home.display()))?;
    let aws_endpoint = unused_loopback_port()?;
    for round in 0..=rounds {
        for k in 0..targets.len() {
            let i = (round + k) % targets.len();
            let elapsed = start_once(&targets[i], &home, aws_endpoint, extra_env)?;
            if round > 0 {
                samples[i].ms.push(elapsed.as_secs_f64() * 1000.0);
            }
        }
        if round > 0 {
            eprint!("\rcold start: round {round}/{rounds}");
        }
    }
    eprintln!();
    Ok(samples)
}

/// A port nothing listens on: bound, read, released.
fn unused_loopback_port() -> Result<u16, Error> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot bind 127.0.0.1: {e}"))?;
    Ok(listener.local_addr()?.port())
}

/// The environment Lambda gives a function, plus what each function's `Config::from_env` reads
/// (a superset: every function ignores the variables it does not use).
fn environment(
    target: &Target,
    runtime_api: SocketAddr,
    home: &Path,
    aws_port: u16,
) -> Vec<(String, String)> {
    let fixed = [
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "bench"),
        ("AWS_SECRET_ACCESS_KEY", "bench"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ("AWS_LAMBDA_LOG_LEVEL", "INFO"),
        ("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023"),
        ("_HANDLER", "bootstrap"),
        ("TZ", ":UTC"),
        ("ORDERS_TABLE", "bench-OrdersTable"),
        ("INVENTORY_TABLE", "bench-InventoryTable"),
        ("PAYMENTS_TABLE", "bench-PaymentsTable"),
        ("IDEMPOTENCY_TABLE", "bench-IdempotencyTable"),
        ("EVENT_BUS_NAME", "bench-orderflow"),
        ("IDEMPOTENCY_LOCK_SECONDS", "90"),
        ("IDEMPOTENCY_KEEP_SECONDS", "1296000"),
        ("PROVIDER_TABLE", "bench-ProviderTable"),
        ("PROVIDER_KEY_TTL_SECONDS", "86400"),
        ("OPEN_ORDERS_INDEX", "OpenOrders"),
        ("PENDING_AFTER_SECONDS", "120"),
        ("RESERVATION_TTL_SECONDS", "1800"),
        ("STRANDED_AFTER_SECONDS", "3600"),
        ("MAX_ORDERS_PER_RUN", "2000"),
        ("REQUIRE_AUTH", "true"),
        (
            "NOTIFICATION_TOPIC_ARN",
            "arn:aws:sns:us-east-1:123456789012:bench-CustomerNotificationsTopic",
        ),
    ];
    let mut env: Vec<(String, String)> = fixed
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let home_str = home.display().to_string();
    env.extend([
        ("AWS_LAMBDA_RUNTIME_API".to_owned(), runtime_api.to_string()),
        (
            "AWS_ENDPOINT_URL".to_owned(),
            format!("http://127.0.0.1:{aws_port}"),
        ),
        ("AWS_LAMBDA_FUNCTION_NAME".to_owned(), target.name.clone()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME".to_owned(),
            format!("/aws/lambda/{}", target.name),
        ),
        ("AWS_LAMBDA_LOG_STREAM_NAME".to_owned(), "bench".to_owned()),
        // No profile files: what a deployed function sees.
        (
            "AWS_CONFIG_FILE".to_owned(),
            format!("{home_str}/.aws/config"),
        ),
        (
            "AWS_SHARED_CREDENTIALS_FILE".to_owned(),
            format!("{home_str}/.aws/credentials"),
        ),
        ("HOME".to_owned(), home_str),
    ]);
    env
}

/// Starts the binary once and returns how long it took to ask for its first event.
fn start_once(
    target: &Target,
    home: &Path,
    aws_port: u16,
    extra_env: &[(String, String)],
) -> Result<Duration, Error> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .map_err(|e| format!("cannot bind the Runtime API stub on 127.0.0.1: {e}"))?;
    let addr = listener.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel::<(Instant, TcpStream)>();
    let accept_stop = Arc::clone(&stop);
    let acceptor = thread::spawn(move || {
        for stream in listener.incoming() {
            if accept_stop.load(Ordering::SeqCst) {
                return;
            }
            let Ok(mut stream) = stream else { continue };
            if let Some(at) = read_request_line(&mut stream) {
                // The connection stays open (the function waits for its event) until the
                // process is killed.
                let _ = tx.send((at, stream));
                return;
            }
        }
    });

    // Taken before the spawn: a small binary can reach `/next` before `spawn` returns.
    let started = Instant::now();
    let mut child = Command::new(&target.bootstrap)
        .env_clear()
        .envs(environment(target, addr, home, aws_port))
        .envs(extra_env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", target.bootstrap.display()))?;

    let deadline = started + Duration::from_secs(20);
    let outcome = loop {
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok((at, stream)) => break Ok((at.saturating_duration_since(started), stream)),
            Err(RecvTimeoutError::Disconnected) => {
                break Err("the Runtime API stub stopped before the first request".to_owned())
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
        if let Ok(Some(status)) = child.try_wait() {
            break Err(format!(
                "{} exited ({status}) before asking for an event",
                target.name
            ));
        }
        if Instant::now() > deadline {
            break Err(format!(
                "{} did not ask for an event within 20 s",
                target.name
            ));
        }
    };
    let stderr = stop_child(&mut child);
    match outcome {
        Ok((elapsed, _held)) => {
            let _ = acceptor.join();
            Ok(elapsed)
        }
        Err(reason) => {
            stop.store(true, Ordering::SeqCst);
            let _ = TcpStream::connect(addr);
            let _ = acceptor.join();
            Err(format!("{reason}; its stderr:\n{stderr}").into())
        }
    }
}

/// Reads the request line (and the rest of the headers, which the stub ignores); `Some` with the
/// time the request line was complete when it asks for the next invocation.
fn read_request_line(stream: &mut TcpStream) -> Option<Instant> {
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 512];
    loop {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(2).position(|w| w == b"\r\n") {
            let at = Instant::now();
            return buf[..end].starts_with(NEXT_PATH.as_bytes()).then_some(at);
        }
    }
}

/// Kills the child by its pid, reaps it and returns what it wrote to stderr.
fn stop_child(child: &mut Child) -> String {
    let _ = child.kill();
    let _ = child.wait();
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    stderr
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names under every `Variables:` block of the SAM template.
    fn template_variables() -> Vec<String> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/template.yaml");
        let text = std::fs::read_to_string(&path).expect("infra/template.yaml is readable");
        let mut names = Vec::new();
        let mut block: Option<usize> = None;
        for line in text.lines() {
            let indent = line.len() - line.trim_start().len();
            let trimmed = line.trim();
            if trimmed == "Variables:" {
                block = Some(indent);
                continue;
            }
            match block {
                Some(outer) if indent > outer && !trimmed.is_empty() => {
                    if let Some((name, _)) = trimmed.split_once(':') {
                        if indent == outer + 2 && !name.starts_with('#') {
                            names.push(name.to_owned());
                        }
                    }
                }
                Some(_) if trimmed.is_empty() || trimmed.starts_with('#') => {}
                _ => block = None,
            }
        }
        names.sort();
        names.dedup();
        names
    }

    #[test]
    fn the_bench_gives_every_variable_the_template_gives_a_function() {
        let target = Target {
            name: "any".into(),
            bootstrap: PathBuf::from("bootstrap"),
        };
        let addr: SocketAddr = "127.0.0.1:9001".parse().expect("a socket address");
        let given: Vec<String> = environment(&target, addr, Path::new("/tmp"), 1)
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        let wanted = template_variables();
        assert!(wanted.len() >= 10, "the template's variables: {wanted:?}");
        let missing: Vec<&String> = wanted.iter().filter(|w| !given.contains(w)).collect();
        assert!(
            missing.is_empty(),
            "a function would exit at start-up for want of {missing:?}"
        );
    }
}
