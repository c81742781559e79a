//! Starts moto server (the AWS-API-compatible endpoint) from the project's `.venv`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

#[derive(Debug, thiserror::Error)]
pub enum MotoError {
    #[error(
        "moto_server was not found (looked for $MOTO_SERVER, .venv/bin/moto_server here and above \
         the orderflow binary, then PATH). Run `make venv` to install it from infra/requirements-dev.txt, \
         or set AWS_ENDPOINT_URL to an endpoint you already run"
    )]
    NotFound,
    #[error("moto_server could not start: {0}")]
    Spawn(std::io::Error),
    #[error("moto_server did not answer on {0} within 30 s; is the port taken? Try --aws-port")]
    NotReady(String),
    #[error("moto_server exited at start ({0}); is port {1} taken? Try --aws-port")]
    Exited(String, u16),
}

/// `$MOTO_SERVER`, then `.venv/bin/moto_server` in the working directory or above the running
/// binary (`target/debug/orderflow` → repo root), then `moto_server` on `PATH`.
pub fn find() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("MOTO_SERVER") {
        return Some(PathBuf::from(p));
    }
    let mut starts: Vec<PathBuf> = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        starts.push(cwd);
    }
    if let Ok(exe) = std::env::current_exe() {
        starts.push(exe);
    }
    for start in starts {
        for dir in start.ancestors() {
            let candidate = dir.join(".venv/bin/moto_server");
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("moto_server"))
            .find(|p| p.is_file())
    })
}

pub struct Moto {
    pub child: Child,
    pub endpoint: String,
}

/// Makes each DynamoDB call atomic inside moto (as DynamoDB's are; moto alone lets two
/// concurrent conditional writes both pass and rolls back other threads' writes when a
/// transaction fails) and logs each call's operation. Loaded through `PYTHONPATH`.
const SITECUSTOMIZE: &str = include_str!("../../../../infra/moto/sitecustomize.py");

pub async fn start(port: u16, state_dir: &Path) -> Result<Moto, MotoError> {
    let binary = find().ok_or(MotoError::NotFound)?;
    let site = state_dir.join("moto-site");
    std::fs::create_dir_all(&site).map_err(MotoError::Spawn)?;
    std::fs::write(site.join("sitecustomize.py"), SITECUSTOMIZE).map_err(MotoError::Spawn)?;
    let log_file = state_dir.join("moto.log");
    if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
        return Err(MotoError::Exited("port in use".into(), port));
    }
    let log = std::fs::File::create(&log_file).map_err(MotoError::Spawn)?;
    let log_err = log.try_clone().map_err(MotoError::Spawn)?;
    let mut child = Command::new(binary)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env("PYTHONPATH", &site)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_err))
        .kill_on_drop(true)
        .spawn()
        .map_err(MotoError::Spawn)?;
    let endpoint = format!("http://127.0.0.1:{port}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(MotoError::Exited(status.to_string(), port));
        }
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(Moto { child, endpoint });
        }
        if tokio::time::Instant::now() > deadline {
            let _ = child.kill().await;
            return Err(MotoError::NotReady(endpoint));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
