//! The `orderflow deploy` subcommands: `local` deploys the stack into MiniStack, serves its API
//! and runs until Ctrl-C or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::build::Build;
use super::ministack::MiniStackOptions;
use super::{deploy, DeployOptions, Deployed};
use crate::cli::wait_for_signal;
use crate::local::logs::LogSink;
use crate::local::messages::READY;

#[derive(Subcommand)]
pub enum DeployCommand {
    /// Deploy the template with `sam deploy --config-env local` into MiniStack (an independent
    /// AWS emulator) on 127.0.0.1, seed the catalog, and serve the HTTP API in front of the
    /// deployed functions (MiniStack serves no routes of an OpenAPI-defined HTTP API). Ctrl-C
    /// stops the API and MiniStack with every process it started.
    Local(LocalArgs),
}

#[derive(clap::Args)]
pub struct LocalArgs {
    /// MiniStack's port on 127.0.0.1 (0: a free one).
    #[arg(long, default_value_t = 0)]
    ministack_port: u16,
    /// Deploy into the emulator already running at this URL (e.g. `make ministack`'s) instead
    /// of starting MiniStack.
    #[arg(long)]
    endpoint_url: Option<String>,
    #[arg(long, default_value_t = 3000)]
    api_port: u16,
    /// The console (orders, queues, dead letters) on 127.0.0.1:PORT; 0 picks a free port.
    #[arg(long, default_value_t = 3001)]
    console_port: u16,
    /// No console (whatever --console-port says).
    #[arg(long)]
    no_console: bool,
    /// Deploy the debug binaries of --bin-dir as they are (built by `cargo build --workspace
    /// --bins`), without `sam build`'s cargo-lambda release build: seconds instead of minutes.
    #[arg(long)]
    debug_bootstraps: bool,
    #[arg(long, default_value = "target/debug")]
    bin_dir: PathBuf,
    #[arg(long, default_value = "infra/template.yaml")]
    template: PathBuf,
    #[arg(long, default_value = "infra/samconfig.toml")]
    samconfig: PathBuf,
    /// The samconfig environment (`[local.*]`): parameters, capabilities.
    #[arg(long, default_value = "local")]
    config_env: String,
    #[arg(long, default_value = crate::local::DEFAULT_STACK)]
    stack: String,
    /// Catalog to seed into the deployed inventory table.
    #[arg(long, default_value = "infra/seed/catalog.json")]
    seed: PathBuf,
    /// The issuer's key (tokens: `orderflow local token CUSTOMER --state-dir <this>`), the
    /// staged bootstraps, MiniStack's files and log.
    #[arg(long, default_value = ".orderflow/deploy")]
    state_dir: PathBuf,
    /// The virtualenv with sam and cargo-lambda.
    #[arg(long, default_value = ".venv")]
    venv: PathBuf,
    /// The virtualenv MiniStack is installed in.
    #[arg(long, default_value = ".venv-ministack")]
    ministack_venv: PathBuf,
}

impl LocalArgs {
    fn options(self) -> Result<DeployOptions, std::io::Error> {
        let ministack = match self.endpoint_url {
            Some(_) => None,
            None => Some(MiniStackOptions {
                venv: self.ministack_venv,
                port: match self.ministack_port {
                    0 => crate::local::free_port()?,
                    port => port,
                },
                state_dir: self.state_dir.join("ministack"),
            }),
        };
        Ok(DeployOptions {
            ministack,
            endpoint_url: self.endpoint_url,
            api_port: self.api_port,
            template: self.template,
            samconfig: self.samconfig,
            config_env: self.config_env,
            stack: self.stack,
            seed: self.seed,
            state_dir: self.state_dir,
            build: if self.debug_bootstraps {
                Build::DebugBootstraps {
                    bin_dir: self.bin_dir,
                }
            } else {
                Build::Release
            },
            venv: self.venv,
            console_port: (!self.no_console).then_some(self.console_port),
        })
    }
}

pub async fn run(command: DeployCommand) -> ExitCode {
    let DeployCommand::Local(args) = command;
    let logs = LogSink::new(None);
    let options = match args.options() {
        Ok(o) => o,
        Err(e) => return crate::cli::fail(&e),
    };
    let deploying = deploy(&options, &logs);
    let deployed = tokio::select! {
        deployed = deploying => deployed,
        () = wait_for_signal() => {
            logs.line("orderflow", "interrupted; stopped what was started");
            return ExitCode::FAILURE;
        }
    };
    let deployed = match deployed {
        Ok(d) => d,
        Err(e) => {
            logs.line("orderflow", &format!("could not deploy: {e}"));
            return ExitCode::FAILURE;
        }
    };
    tell(&deployed, &options, &logs);
    wait_for_signal().await;
    let what = match deployed.started_ministack() {
        true => "stopping the API and MiniStack",
        false => "stopping the API (the MiniStack it deployed to keeps running)",
    };
    logs.line("orderflow", what);
    deployed.shutdown().await;
    logs.line("orderflow", "stopped");
    ExitCode::SUCCESS
}

/// The stack's status and every output, the inboxes, how to get a token, and `ready`.
fn tell(d: &Deployed, options: &DeployOptions, logs: &LogSink) {
    let say = |text: &str| logs.line("orderflow", text);
    say(&format!(
        "stack {} {}; outputs:",
        d.stack.name, d.stack.status
    ));
    for (key, value) in &d.stack.outputs {
        say(&format!("  {key:<30} = {value}"));
    }
    say(&format!(
        "  (ApiUrl is the address on AWS; MiniStack serves no routes of it: the API is {})",
        d.api_url
    ));
    // What `cargo lambda deploy … <function>` takes (DEPLOY-NOTES §6).
    for (id, r) in &d.stack.resources {
        if r.kind == "AWS::Lambda::Function" {
            say(&format!("function {id:<25} = {}", r.physical_id));
        }
    }
    for (topic, url) in &d.inboxes {
        say(&format!("inbox for {topic}: {url}"));
    }
    say(&format!(
        "auth: on, as the template's JWT authorizer; a token for a customer: \
         orderflow local token CUSTOMER --state-dir {}",
        options.state_dir.display()
    ));
    let console = d
        .console_url
        .as_ref()
        .map(|url| format!(" · console {url}"))
        .unwrap_or_default();
    say(&format!(
        "{READY} {}{console} · AWS endpoint {} · stack {} · Ctrl-C to stop",
        d.api_url, d.endpoint, d.stack.name
    ));
}
