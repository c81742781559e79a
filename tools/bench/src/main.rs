//! `orderflow-bench`: what `make bench` runs once the release bootstraps and the criterion
//! benches are built. It measures the cold start of every bootstrap, reads their sizes and
//! criterion's handler costs, prints the tables and writes `docs/PERFORMANCE.md`.

// Timings and ratios are floats by nature; the workspace lint is about money.
#![allow(clippy::float_arithmetic)]

mod aws_calls;
mod cold_start;
mod handler_cost;
mod load;
mod report;
mod size;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::Parser;

use crate::cold_start::Target;
use crate::report::{Run, Summary};

pub type Error = Box<dyn std::error::Error + Send + Sync>;

const FUNCTIONS: [&str; 5] = [
    "validate-order",
    "update-inventory",
    "process-payment",
    "send-notification",
    "query-api",
];

/// The static part of the report: what was tried to meet the targets, with figures.
const WHAT_WAS_TRIED: &str = include_str!("what-was-tried.md");

#[derive(Parser)]
#[command(
    name = "orderflow-bench",
    about = "Cold start, binary size and handler cost of every function; writes docs/PERFORMANCE.md"
)]
struct Args {
    /// Recorded rounds of cold starts (each round starts every binary once).
    #[arg(long, default_value_t = 31)]
    runs: usize,
    /// Where `cargo lambda build` put the bootstraps (`<dir>/<name>/bootstrap`).
    #[arg(long, default_value = "target/lambda")]
    lambda_dir: PathBuf,
    /// The functions to measure.
    #[arg(long, value_delimiter = ',', default_values_t = FUNCTIONS.map(String::from))]
    functions: Vec<String>,
    /// The reference binary for the cold-start ratio.
    #[arg(long, default_value = "bench-hello-world")]
    reference: String,
    /// criterion's output directory.
    #[arg(long, default_value = "target/criterion")]
    criterion_dir: PathBuf,
    /// The counts `make load` leaves.
    #[arg(long, default_value = "target/bench/aws-calls.json")]
    aws_calls: PathBuf,
    /// What `orderflow load` left (`target/bench/load.json`).
    #[arg(long, default_value = "target/bench/load.json")]
    load: PathBuf,
    /// What `orderflow load --flash` left (`target/bench/flash.json`).
    #[arg(long, default_value = "target/bench/flash.json")]
    flash: PathBuf,
    /// Rewrite only the load section of --out from --load and --flash (what `make load` does),
    /// measuring nothing.
    #[arg(long)]
    load_only: bool,
    /// Scratch space (an empty HOME for the functions).
    #[arg(long, default_value = "target/bench")]
    scratch: PathBuf,
    /// The report to write.
    #[arg(long, default_value = "docs/PERFORMANCE.md")]
    out: PathBuf,
    /// Extra environment for every binary, `KEY=VALUE` (for experiments; the report lists them).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    extra_env: Vec<String>,
    /// The workspace manifest whose release profile the report quotes.
    #[arg(long, default_value = "Cargo.toml")]
    manifest: PathBuf,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("orderflow-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The load section, from the files the load runs left.
fn load_section(args: &Args) -> Result<String, Error> {
    let load = load::read(&args.load)?;
    let flash = load::read(&args.flash)?;
    Ok(load::section(load.as_ref(), flash.as_ref()))
}

fn run(args: Args) -> Result<(), Error> {
    if args.load_only {
        let section = load_section(&args)?;
        let page = std::fs::read_to_string(&args.out).unwrap_or_default();
        print!("{section}");
        std::fs::write(&args.out, load::replace_section(&page, &section))
            .map_err(|e| format!("cannot write {}: {e}", args.out.display()))?;
        eprintln!("wrote the load section of {}", args.out.display());
        return Ok(());
    }
    if args.runs < 21 {
        return Err(format!(
            "--runs {} is too few for a median: use at least 21",
            args.runs
        )
        .into());
    }
    let targets: Vec<Target> = args
        .functions
        .iter()
        .chain(std::iter::once(&args.reference))
        .map(|name| Target {
            name: name.clone(),
            bootstrap: args.lambda_dir.join(name).join("bootstrap"),
        })
        .collect();
    for t in &targets {
        if !t.bootstrap.is_file() {
            return Err(format!(
                "{} is missing: build it with `cargo lambda build --release --bin {}` (make bench does)",
                t.bootstrap.display(),
                t.name
            )
            .into());
        }
    }

    let mut sizes = Vec::new();
    for t in &targets {
        sizes.push((t.name.clone(), size::measure(&t.bootstrap)?));
    }

    let extra_env = args
        .extra_env
        .iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| format!("--env {kv:?} is not KEY=VALUE"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let load_before = load_average();
    let samples = cold_start::measure(&targets, args.runs, &args.scratch, &extra_env)?;
    let mut summaries: Vec<Summary> = samples.iter().map(Summary::of).collect();
    let reference = summaries.pop().ok_or("no reference binary was measured")?;

    let costs = handler_cost::collect(&args.criterion_dir)?;
    let aws_calls = aws_calls::read(&args.aws_calls)?;

    let run = Run {
        generated_at: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        context: context(&load_before, &extra_env),
        profile: release_profile(&args.manifest)?,
        reference: &reference,
        cold_starts: &summaries,
        sizes: &sizes,
        costs: &costs,
        aws_calls: aws_calls.as_ref(),
        aws_calls_path: args.aws_calls.display().to_string(),
        what_was_tried: WHAT_WAS_TRIED,
    };
    print!("{}", report::terminal(&run));
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let page = load::replace_section(&report::markdown(&run), &load_section(&args)?);
    std::fs::write(&args.out, page)
        .map_err(|e| format!("cannot write {}: {e}", args.out.display()))?;
    eprintln!("wrote {}", args.out.display());
    Ok(())
}

/// The machine and the source the numbers belong to.
/// The 1-minute load average, as `/proc/loadavg` says.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}

fn context(load: &str, extra_env: &[(String, String)]) -> Vec<(&'static str, String)> {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let commit = command_line("git", &["rev-parse", "--short", "HEAD"]);
    let dirty = command_line("git", &["status", "--porcelain"]).is_some_and(|s| !s.is_empty());
    let mut context = vec![
        (
            "machine",
            format!(
                "{} {}, {cores} cores, 1-minute load average {load} before the cold-start runs",
                std::env::consts::OS,
                std::env::consts::ARCH
            ),
        ),
        (
            "toolchain",
            command_line("rustc", &["--version"]).unwrap_or_else(|| "unknown".into()),
        ),
        (
            "source",
            match commit {
                Some(c) if dirty => format!("{c} with uncommitted changes"),
                Some(c) => c,
                None => "unknown".into(),
            },
        ),
        (
            "build",
            "`cargo lambda build --release --bin <name>` per binary, as `make package` does (x86_64)"
                .into(),
        ),
    ];
    if !extra_env.is_empty() {
        let env: Vec<String> = extra_env
            .iter()
            .map(|(k, v)| format!("`{k}={v}`"))
            .collect();
        context.push(("extra environment", env.join(" ")));
    }
    context
}

fn command_line(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The `[profile.release]` table of the workspace manifest, as written.
fn release_profile(manifest: &Path) -> Result<String, Error> {
    let text = std::fs::read_to_string(manifest)
        .map_err(|e| format!("cannot read {}: {e}", manifest.display()))?;
    let mut lines: Vec<&str> = text
        .lines()
        .skip_while(|l| l.trim() != "[profile.release]")
        .enumerate()
        .take_while(|(i, l)| *i == 0 || !l.trim_start().starts_with('['))
        .map(|(_, l)| l)
        .collect();
    // Comments and blank lines at the end introduce the next table, not this one.
    while lines
        .last()
        .is_some_and(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        lines.pop();
    }
    Ok(lines.iter().map(|l| format!("{l}\n")).collect())
}
