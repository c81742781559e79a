//! Starts moto server (the AWS-API-compatible endpoint) from the project's `.venv`, with the
//! project's patch and, if asked, the harsh cloud (`infra/moto/harsh`) switched on by a spec.

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
    #[error(
        "--harsh patches the moto the local cloud starts, but AWS_ENDPOINT_URL names another \
         endpoint ({0}); unset it or leave out --harsh"
    )]
    HarshElsewhere(String),
}

/// The variable that names the harsh cloud's spec file to moto (unset: moto as before).
pub const HARSH_VARIABLE: &str = "ORDERFLOW_HARSH_FILE";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "harsh cloud spec: {0} (expected e.g. conflict_ms=25,item_wcu=1000,eb_duplicate=50,eb_delay=100,eb_delay_ms=2000,seed=7)"
)]
pub struct HarshSpecError(String);

/// The harsh cloud's spec, checked here so a typo fails `local up` rather than moto's start:
/// `kind=value` pairs; the cloud's nature is on at AWS's figures unless set to 0, the injected
/// faults are off unless given a rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HarshSpec(Vec<(String, u64)>);

impl HarshSpec {
    /// The kinds that describe how AWS behaves (a run leaves them on) and the faults a run
    /// injects (and may switch off mid-run); `infra/moto/harsh/spec.py` is the reference.
    const NATURE_KINDS: [&str; 3] = ["conflict_ms", "item_wcu", "seed"];
    const INJECTED_KINDS: [&str; 3] = ["eb_duplicate", "eb_delay", "eb_delay_ms"];
    const PER_MILLE_KINDS: [&str; 2] = ["eb_duplicate", "eb_delay"];

    pub fn parse(spec: &str) -> Result<HarshSpec, HarshSpecError> {
        let mut kinds = Vec::new();
        for part in spec.split([',', ' ', '\n', '\t']).filter(|p| !p.is_empty()) {
            let (kind, value) = part
                .split_once('=')
                .ok_or_else(|| HarshSpecError(format!("{part:?} is not kind=value")))?;
            if !Self::NATURE_KINDS.contains(&kind) && !Self::INJECTED_KINDS.contains(&kind) {
                return Err(HarshSpecError(format!("unknown kind {kind:?}")));
            }
            let n: u64 = value
                .parse()
                .map_err(|_| HarshSpecError(format!("{kind}: {value:?} is not a whole number")))?;
            if Self::PER_MILLE_KINDS.contains(&kind) && n > 1000 {
                return Err(HarshSpecError(format!(
                    "{kind}: {n} is not a per-mille (0..=1000)"
                )));
            }
            kinds.push((kind.to_owned(), n));
        }
        Ok(HarshSpec(kinds))
    }

    /// The same cloud with its injected faults dropped: what a run switches to mid-run.
    pub fn without_injected(&self) -> HarshSpec {
        HarshSpec(
            self.0
                .iter()
                .filter(|(kind, _)| !Self::INJECTED_KINDS.contains(&kind.as_str()))
                .cloned()
                .collect(),
        )
    }
}

impl std::fmt::Display for HarshSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
        f.write_str(&parts.join(","))
    }
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
    /// The harsh cloud's spec file and the spec in it, when moto was started with one.
    pub harsh: Option<(PathBuf, HarshSpec)>,
}

impl Moto {
    /// Rewrites the spec without its injected faults; moto reads it again at its next call.
    pub fn stop_injected_faults(&self) -> std::io::Result<()> {
        match &self.harsh {
            Some((file, spec)) => write_spec(file, &spec.without_injected()),
            None => Ok(()),
        }
    }
}

/// Makes each DynamoDB call atomic inside moto (as DynamoDB's are; moto alone lets two
/// concurrent conditional writes both pass and rolls back other threads' writes when a
/// transaction fails), logs each call's operation and installs the harsh cloud when its
/// variable is set, and publishes SQS's age-of-oldest metric. Loaded through `PYTHONPATH`, with
/// `sqs_metrics.py` and the `harsh` package beside it.
const SITE: [(&str, &str); 11] = [
    (
        "sitecustomize.py",
        include_str!("../../../../infra/moto/sitecustomize.py"),
    ),
    (
        "sqs_metrics.py",
        include_str!("../../../../infra/moto/sqs_metrics.py"),
    ),
    (
        "harsh/__init__.py",
        include_str!("../../../../infra/moto/harsh/__init__.py"),
    ),
    (
        "harsh/capacity.py",
        include_str!("../../../../infra/moto/harsh/capacity.py"),
    ),
    (
        "harsh/contention.py",
        include_str!("../../../../infra/moto/harsh/contention.py"),
    ),
    (
        "harsh/dynamodb.py",
        include_str!("../../../../infra/moto/harsh/dynamodb.py"),
    ),
    (
        "harsh/eventbridge.py",
        include_str!("../../../../infra/moto/harsh/eventbridge.py"),
    ),
    (
        "harsh/log.py",
        include_str!("../../../../infra/moto/harsh/log.py"),
    ),
    (
        "harsh/spec.py",
        include_str!("../../../../infra/moto/harsh/spec.py"),
    ),
    (
        "harsh/spec_file.py",
        include_str!("../../../../infra/moto/harsh/spec_file.py"),
    ),
    (
        "harsh/tokens.py",
        include_str!("../../../../infra/moto/harsh/tokens.py"),
    ),
];

/// In one step (a new file renamed over the old), so moto never reads half a spec.
fn write_spec(file: &Path, spec: &HarshSpec) -> std::io::Result<()> {
    let staging = file.with_extension("new");
    std::fs::write(&staging, spec.to_string())?;
    std::fs::rename(staging, file)
}

/// Starts moto on 127.0.0.1:`port`, its log in `state_dir/moto.log`; with `harsh`, the harsh
/// cloud on, its spec in `state_dir/harsh.spec`.
pub async fn start(
    port: u16,
    state_dir: &Path,
    harsh: Option<&HarshSpec>,
) -> Result<Moto, MotoError> {
    let binary = find().ok_or(MotoError::NotFound)?;
    let site = state_dir.join("moto-site");
    std::fs::create_dir_all(site.join("harsh")).map_err(MotoError::Spawn)?;
    for (path, text) in SITE {
        std::fs::write(site.join(path), text).map_err(MotoError::Spawn)?;
    }
    let harsh = match harsh {
        Some(spec) => {
            let file = state_dir.join("harsh.spec");
            write_spec(&file, spec).map_err(MotoError::Spawn)?;
            Some((file, spec.clone()))
        }
        None => None,
    };
    let log_file = state_dir.join("moto.log");
    if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
        return Err(MotoError::Exited("port in use".into(), port));
    }
    let log = std::fs::File::create(&log_file).map_err(MotoError::Spawn)?;
    let log_err = log.try_clone().map_err(MotoError::Spawn)?;
    let mut command = Command::new(binary);
    command
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env("PYTHONPATH", &site);
    match &harsh {
        Some((file, _)) => command.env(HARSH_VARIABLE, file),
        None => command.env_remove(HARSH_VARIABLE),
    };
    let mut child = command
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
            return Ok(Moto {
                child,
                endpoint,
                harsh,
            });
        }
        if tokio::time::Instant::now() > deadline {
            let _ = child.kill().await;
            return Err(MotoError::NotReady(endpoint));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_keeps_its_kinds_and_bad_specs_are_refused_with_the_reason() {
        let spec =
            HarshSpec::parse("conflict_ms=25, item_wcu=1000,eb_duplicate=50\nseed=7").unwrap();
        assert_eq!(
            spec.to_string(),
            "conflict_ms=25,item_wcu=1000,eb_duplicate=50,seed=7"
        );
        assert_eq!(HarshSpec::parse("").unwrap().to_string(), "");
        for (bad, reason) in [
            ("conflict_ms", "not kind=value"),
            ("item_wcu=x", "not a whole number"),
            ("item_wcu=-1", "not a whole number"),
            ("eb_delay=1001", "per-mille"),
            ("lost_response=5", "unknown kind"),
        ] {
            let error = HarshSpec::parse(bad).unwrap_err().to_string();
            assert!(error.contains(reason), "{bad}: {error}");
        }
    }

    #[test]
    fn switching_off_the_injected_faults_keeps_the_clouds_nature() {
        let spec = HarshSpec::parse(
            "conflict_ms=40,eb_duplicate=50,item_wcu=20,eb_delay=100,eb_delay_ms=500,seed=3",
        )
        .unwrap();
        assert_eq!(
            spec.without_injected().to_string(),
            "conflict_ms=40,item_wcu=20,seed=3"
        );
    }

    #[tokio::test]
    async fn stopping_the_injected_faults_rewrites_the_spec_moto_was_started_with() {
        let dir = std::env::temp_dir().join(format!("orderflow-harsh-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("harsh.spec");
        let spec = HarshSpec::parse("item_wcu=20,eb_duplicate=50,eb_delay=10").unwrap();
        write_spec(&file, &spec).unwrap();
        let mut moto = Moto {
            child: Command::new("true").spawn().unwrap(),
            endpoint: String::new(),
            harsh: Some((file.clone(), spec)),
        };

        moto.stop_injected_faults().unwrap();

        assert_eq!(std::fs::read_to_string(&file).unwrap(), "item_wcu=20");
        let _ = moto.child.wait().await;
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_spec_file_is_replaced_whole() {
        let dir = std::env::temp_dir().join(format!("orderflow-harsh-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("harsh.spec");
        let spec = HarshSpec::parse("item_wcu=20,eb_duplicate=50").unwrap();
        write_spec(&file, &spec).unwrap();
        let moto_like = std::fs::read_to_string(&file).unwrap();
        write_spec(&file, &spec.without_injected()).unwrap();
        assert_eq!(moto_like, "item_wcu=20,eb_duplicate=50");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "item_wcu=20");
        assert!(!file.with_extension("new").exists());
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// moto's log once it holds `line` (or after 30 s).
    async fn log_with(state_dir: &Path, line: &str) -> String {
        for _ in 0..300 {
            let log = std::fs::read_to_string(state_dir.join("moto.log")).unwrap_or_default();
            if log.contains(line) {
                return log;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        std::fs::read_to_string(state_dir.join("moto.log")).unwrap_or_default()
    }

    #[tokio::test]
    async fn a_started_moto_runs_the_harsh_cloud_with_the_spec_given_and_not_without_one() {
        let dir = std::env::temp_dir().join(format!("orderflow-harsh-{}", uuid::Uuid::new_v4()));
        let spec = HarshSpec::parse("conflict_ms=0,item_wcu=5").unwrap();
        let harsh_dir = dir.join("harsh");
        let mut harsh = start(super::super::free_port().unwrap(), &harsh_dir, Some(&spec))
            .await
            .unwrap();
        let plain_dir = dir.join("plain");
        let mut plain = start(super::super::free_port().unwrap(), &plain_dir, None)
            .await
            .unwrap();

        let harsh_log = log_with(&harsh_dir, "orderflow-harsh-config: installed").await;
        let plain_log = log_with(&plain_dir, "Running on").await;
        harsh.child.kill().await.unwrap();
        plain.child.kill().await.unwrap();

        assert!(
            harsh_log.contains("conflict_ms=0, item_wcu=5"),
            "{harsh_log}"
        );
        assert!(plain_log.contains("Running on"), "{plain_log}");
        assert!(!plain_log.contains("orderflow-harsh"), "{plain_log}");
        for log in [&harsh_log, &plain_log] {
            assert!(!log.contains("Error in sitecustomize"), "{log}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn every_file_of_the_patch_is_embedded() {
        let moto_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/moto");
        let mut on_disk: Vec<String> = std::fs::read_dir(moto_dir.join("harsh"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".py"))
            .map(|name| format!("harsh/{name}"))
            .collect();
        on_disk.extend(["sitecustomize.py".into(), "sqs_metrics.py".into()]);
        on_disk.sort();
        let mut embedded: Vec<String> = SITE.iter().map(|(p, _)| (*p).to_owned()).collect();
        embedded.sort();
        assert_eq!(embedded, on_disk);
        for (path, text) in SITE {
            assert_eq!(std::fs::read_to_string(moto_dir.join(path)).unwrap(), text);
        }
    }
}
