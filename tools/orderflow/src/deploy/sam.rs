//! `sam deploy --config-env local` onto the emulator, and the artifact bucket it needs first.
//!
//! The bucket is a stack of its own (`<stack>-artifacts`, one `AWS::S3::Bucket`), the way sam's
//! `resolve_s3` keeps its managed bucket: CloudFormation is the one AWS API this needs besides
//! Lambda, and no S3 client is linked for one `CreateBucket`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use aws_sdk_cloudformation::error::DisplayErrorContext;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use super::stack::StackDescription;
use super::DeployError;
use crate::local::logs::LogSink;

const BUCKET_TEMPLATE: &str = r#"{
  "AWSTemplateFormatVersion": "2010-09-09",
  "Description": "The bucket sam deploy uploads orderflow's artifacts to (orderflow deploy local).",
  "Parameters": {"BucketName": {"Type": "String"}},
  "Resources": {"Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": {"Ref": "BucketName"}}}}
}"#;

/// Makes the bucket `bucket` through the stack `<stack>-artifacts` unless that stack exists.
pub async fn ensure_bucket(
    cfn: &aws_sdk_cloudformation::Client,
    stack: &str,
    bucket: &str,
) -> Result<(), DeployError> {
    let name = format!("{stack}-artifacts");
    if StackDescription::read(cfn, &name).await?.is_none() {
        cfn.create_stack()
            .stack_name(&name)
            .template_body(BUCKET_TEMPLATE)
            .parameters(
                aws_sdk_cloudformation::types::Parameter::builder()
                    .parameter_key("BucketName")
                    .parameter_value(bucket)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| DeployError::step("the artifact bucket", DisplayErrorContext(e)))?;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let status = StackDescription::read(cfn, &name)
            .await?
            .map(|s| s.status)
            .unwrap_or_default();
        if status == "CREATE_COMPLETE" || status == "UPDATE_COMPLETE" {
            return Ok(());
        }
        if status.contains("FAILED") || status.contains("ROLLBACK") {
            return Err(DeployError::step(
                "the artifact bucket",
                format!("{name} is {status}"),
            ));
        }
        if tokio::time::Instant::now() > deadline {
            return Err(DeployError::step(
                "the artifact bucket",
                format!("{name} still {status} after 60 s"),
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// One `sam deploy`.
#[derive(Debug, Clone)]
pub struct SamDeploy {
    /// The virtualenv sam is installed in (`.venv`): its `bin` leads `PATH`.
    pub venv: PathBuf,
    /// `infra/samconfig.toml`, made absolute (sam resolves a relative one against the
    /// template's folder, DEPLOY-NOTES §5).
    pub config_file: PathBuf,
    pub config_env: String,
    /// What to deploy: `.aws-sam/build/template.yaml` after `sam build`, or a staged template.
    pub template_file: PathBuf,
    pub stack: String,
    pub region: String,
    pub bucket: String,
    pub endpoint: String,
}

impl SamDeploy {
    /// The command line. Stack, region and bucket are given here so that they are the ones
    /// this tool reads back, whatever the config environment says.
    pub fn args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec!["deploy".into(), "--config-file".into()];
        args.push(self.config_file.clone().into());
        for (flag, value) in [
            ("--config-env", &self.config_env),
            ("--stack-name", &self.stack),
            ("--region", &self.region),
            ("--s3-bucket", &self.bucket),
        ] {
            args.push(flag.into());
            args.push(value.into());
        }
        args.push("--template-file".into());
        args.push(self.template_file.clone().into());
        args.push("--no-progressbar".into());
        args
    }

    /// The environment: the emulator's endpoint and its account's key (MiniStack's `test`),
    /// whatever the caller's shell holds — real AWS credentials never reach an emulator.
    pub fn environment(&self) -> Vec<(&'static str, String)> {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut paths = vec![self.venv.join("bin")];
        paths.extend(std::env::split_paths(&path));
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_REGION", self.region.clone()),
            ("AWS_DEFAULT_REGION", self.region.clone()),
            ("SAM_CLI_TELEMETRY", "0".into()),
            (
                "PATH",
                std::env::join_paths(paths)
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ),
        ]
    }

    /// Runs it, its output as `sam` lines of `logs`.
    pub async fn run(&self, logs: &LogSink) -> Result<(), DeployError> {
        run_logged(self.command(), "sam deploy", logs).await
    }

    fn command(&self) -> Command {
        let mut command = Command::new(self.venv.join("bin/sam"));
        command
            .args(self.args())
            .envs(self.environment())
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN");
        command
    }
}

/// Runs `command`, each line of its output a line of `logs` under its program's name; fails
/// with the last lines when it exits non-zero.
pub async fn run_logged(
    mut command: Command,
    step: &'static str,
    logs: &LogSink,
) -> Result<(), DeployError> {
    let program = Path::new(command.as_std().get_program())
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| DeployError::step(step, format!("{program}: {e}")))?;
    let tail = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut readers = Vec::new();
    let streams: [Option<Box<dyn tokio::io::AsyncRead + Send + Unpin>>; 2] = [
        child.stdout.take().map(|s| Box::new(s) as _),
        child.stderr.take().map(|s| Box::new(s) as _),
    ];
    for stream in streams.into_iter().flatten() {
        let (logs, tail, program) = (logs.clone(), tail.clone(), program.clone());
        readers.push(tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                logs.line(&program, &line);
                if let Ok(mut t) = tail.lock() {
                    t.push(line);
                    let excess = t.len().saturating_sub(20);
                    t.drain(..excess);
                }
            }
        }));
    }
    let status = child.wait().await?;
    for r in readers {
        let _ = r.await;
    }
    if status.success() {
        return Ok(());
    }
    let last = tail.lock().map(|t| t.join("\n")).unwrap_or_default();
    Err(DeployError::step(
        step,
        format!("{program} {status}:\n{last}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deploy() -> SamDeploy {
        SamDeploy {
            venv: PathBuf::from("/r/.venv"),
            config_file: PathBuf::from("/r/infra/samconfig.toml"),
            config_env: "local".into(),
            template_file: PathBuf::from("/r/.orderflow/deploy/sam/template.yaml"),
            stack: "orderflow-local".into(),
            region: "us-east-1".into(),
            bucket: "orderflow-local-artifacts".into(),
            endpoint: "http://127.0.0.1:4599".into(),
        }
    }

    #[test]
    fn sam_deploys_the_given_template_to_the_named_stack_with_the_config_environment() {
        let args: Vec<String> = deploy()
            .args()
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let pair = |flag: &str| {
            let i = args.iter().position(|a| a == flag).unwrap();
            args[i + 1].clone()
        };
        assert_eq!(args[0], "deploy");
        assert_eq!(pair("--config-file"), "/r/infra/samconfig.toml");
        assert_eq!(pair("--config-env"), "local");
        assert_eq!(pair("--stack-name"), "orderflow-local");
        assert_eq!(pair("--s3-bucket"), "orderflow-local-artifacts");
        assert_eq!(
            pair("--template-file"),
            "/r/.orderflow/deploy/sam/template.yaml"
        );
    }

    #[test]
    fn sam_talks_to_the_emulator_with_its_test_key_and_finds_cargo_lambda_in_the_venv() {
        let env: std::collections::BTreeMap<_, _> = deploy().environment().into_iter().collect();
        assert_eq!(env["AWS_ENDPOINT_URL"], "http://127.0.0.1:4599");
        assert_eq!(env["AWS_ACCESS_KEY_ID"], "test");
        assert!(env["PATH"].starts_with("/r/.venv/bin"), "{}", env["PATH"]);
        assert_eq!(env["SAM_CLI_TELEMETRY"], "0");
    }

    #[tokio::test]
    async fn a_failed_command_says_its_last_lines() {
        let mut command = Command::new("sh");
        command.args(["-c", "echo one; echo two >&2; exit 3"]);
        let logs = LogSink::to_file(
            &std::env::temp_dir().join(format!("run-{}.log", uuid::Uuid::new_v4())),
            None,
        )
        .unwrap();
        let e = run_logged(command, "a step", &logs)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("a step: sh exit status: 3"), "{e}");
        assert!(e.contains("one") && e.contains("two"), "{e}");
    }
}
