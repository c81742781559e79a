//! The tables: printed to the terminal and written, with the context of the run, to
//! `docs/PERFORMANCE.md`.

use std::fmt::Write as _;

use crate::aws_calls::AwsCalls;
use crate::cold_start::Samples;
use crate::handler_cost::Cost;
use crate::size::Size;

/// The issue's targets.
pub const MAX_BOOTSTRAP_BYTES: u64 = 6_000_000;
pub const MAX_COLD_START_RATIO: f64 = 2.0;

pub struct Summary {
    pub name: String,
    pub median: f64,
    pub min: f64,
    pub p90: f64,
    pub runs: usize,
}

impl Summary {
    pub fn of(samples: &Samples) -> Summary {
        let mut ms = samples.ms.clone();
        ms.sort_by(f64::total_cmp);
        let n = ms.len();
        let at = |i: usize| ms.get(i).copied().unwrap_or(f64::NAN);
        let median = if n % 2 == 1 {
            at(n / 2)
        } else {
            (at(n / 2 - 1) + at(n / 2)) / 2.0
        };
        // Nearest rank: the smallest sample with at least 90 % of the samples at or below it.
        let p90_rank = (n * 9).div_ceil(10).max(1);
        Summary {
            name: samples.name.clone(),
            median,
            min: at(0),
            p90: at(p90_rank - 1),
            runs: n,
        }
    }
}

pub struct Run<'a> {
    pub generated_at: String,
    pub context: Vec<(&'static str, String)>,
    pub profile: String,
    pub reference: &'a Summary,
    pub cold_starts: &'a [Summary],
    pub sizes: &'a [(String, Size)],
    pub costs: &'a [Cost],
    pub aws_calls: Option<&'a AwsCalls>,
    pub aws_calls_path: String,
    pub what_was_tried: &'a str,
}

fn mb(bytes: u64) -> f64 {
    // Sizes are far below 2^53: exact.
    bytes as f64 / 1e6
}

fn check(ok: bool) -> &'static str {
    if ok {
        "yes"
    } else {
        "**no**"
    }
}

fn duration(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

pub fn cold_start_table(run: &Run) -> String {
    let mut out = String::new();
    let reference = run.reference.median;
    let _ = writeln!(
        out,
        "| binary | median ms | min ms | p90 ms | runs | median ÷ {} | ≤ {MAX_COLD_START_RATIO}× |",
        run.reference.name
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|:---:|");
    for s in run.cold_starts.iter().chain(std::iter::once(run.reference)) {
        let ratio = s.median / reference;
        let _ = writeln!(
            out,
            "| {} | {:.2} | {:.2} | {:.2} | {} | {ratio:.2} | {} |",
            s.name,
            s.median,
            s.min,
            s.p90,
            s.runs,
            check(ratio <= MAX_COLD_START_RATIO)
        );
    }
    out
}

pub fn size_table(run: &Run) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| binary | bootstrap bytes | bootstrap MB | zip bytes | zip MB | ≤ 6 MB |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|:---:|");
    for (name, size) in run.sizes {
        let _ = writeln!(
            out,
            "| {name} | {} | {:.2} | {} | {:.2} | {} |",
            size.bootstrap,
            mb(size.bootstrap),
            size.zip,
            mb(size.zip),
            check(size.bootstrap <= MAX_BOOTSTRAP_BYTES)
        );
    }
    out
}

pub fn cost_table(run: &Run) -> String {
    let mut out = String::new();
    if run.costs.is_empty() {
        out.push_str("No criterion results found: run `cargo bench` (as `make bench` does).\n");
        return out;
    }
    let _ = writeln!(
        out,
        "| benchmark | events per iteration | median per event | mean per event (95 % CI) |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|");
    for c in run.costs {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} ({} – {}) |",
            c.id,
            c.events_per_iteration,
            duration(c.median_ns),
            duration(c.mean_ns),
            duration(c.mean_low_ns),
            duration(c.mean_high_ns)
        );
    }
    out
}

pub fn aws_calls_section(run: &Run) -> String {
    let mut out = String::new();
    match run.aws_calls {
        None => {
            let _ = writeln!(
                out,
                "Not measured in this run: run `make load` first (it writes `{}`).",
                run.aws_calls_path
            );
        }
        Some(calls) => {
            let confirmed = calls.confirmed.unwrap_or(calls.orders);
            let _ = writeln!(
                out,
                "From `{}`: {} orders, {} confirmed, **{:.2} AWS calls per confirmed order**.\n",
                run.aws_calls_path, calls.orders, confirmed, calls.per_order
            );
            let _ = writeln!(out, "| call | count | per confirmed order |");
            let _ = writeln!(out, "|---|---:|---:|");
            for (call, count) in &calls.calls {
                let per = if confirmed == 0 {
                    f64::NAN
                } else {
                    *count as f64 / confirmed as f64
                };
                let _ = writeln!(out, "| {call} | {count} | {per:.2} |");
            }
        }
    }
    out
}

/// What the terminal shows.
pub fn terminal(run: &Run) -> String {
    format!(
        "\nCold start (exec → first /next)\n\n{}\nBinary size\n\n{}\nHandler cost\n\n{}\nAWS calls per confirmed order\n\n{}",
        cold_start_table(run),
        size_table(run),
        cost_table(run),
        aws_calls_section(run)
    )
}

/// The whole of `docs/PERFORMANCE.md`.
pub fn markdown(run: &Run) -> String {
    let mut out = String::new();
    out.push_str("# Performance\n\n");
    out.push_str(
        "<!-- Generated by `make bench` (tools/bench). Do not edit by hand: run `make bench` \
         again; the \"What was tried\" text lives in tools/bench/src/what-was-tried.md. -->\n\n",
    );
    out.push_str(
        "> **Generated by `make bench`; do not edit by hand.** Every number below comes from the \
         run described here; run `make bench` to regenerate it.\n\n",
    );
    let _ = writeln!(out, "Run of {}:\n", run.generated_at);
    for (key, value) in &run.context {
        let _ = writeln!(out, "- {key}: {value}");
    }
    let _ = writeln!(
        out,
        "\nRelease profile (root `Cargo.toml`):\n\n```toml\n{}```\n",
        run.profile
    );
    let _ = writeln!(
        out,
        "Targets (issue 7): every `bootstrap` ≤ 6 MB (10^6 bytes), every cold start ≤ {MAX_COLD_START_RATIO} × \
         hello-world.\n"
    );

    out.push_str("## Cold start\n\n");
    out.push_str(
        "Time from the return of `exec` of the release `bootstrap` to its first \
         `GET /2018-06-01/runtime/invocation/next`, against a Runtime API stub on 127.0.0.1, with \
         the environment Lambda and the function's configuration provide (static dummy \
         credentials, `AWS_ENDPOINT_URL` on an unused loopback port, instance metadata off). \
         Rounds are interleaved: each round starts every binary once, round-robin, after one \
         unrecorded warm-up round, so the binaries are in the page cache (on Lambda the first \
         start also reads the code from the image). `bench-hello-world` is a `lambda_runtime` \
         function that does nothing, built in this workspace with the same profile.\n\n",
    );
    out.push_str(&cold_start_table(run));

    out.push_str("\n## Binary size\n\n");
    out.push_str(
        "The `bootstrap` that `cargo lambda build --release` leaves in `target/lambda/<name>/`, \
         and the same file zipped (deflate), as Lambda receives it. MB = 10^6 bytes.\n\n",
    );
    out.push_str(&size_table(run));

    out.push_str("\n## Handler cost\n\n");
    out.push_str(
        "criterion benches (`cargo bench`, release profile) against the in-memory ports: \
         `shared/benches/codec.rs` (request parse + validate, event envelope encode/decode) and \
         `functions/<name>/benches/handler.rs` (a batch of 10 SQS records, each a different \
         order, through the consumer's `handle_batch`). Times are per event: one iteration \
         divided by the events it handles. No log subscriber is installed, so logging costs \
         only its disabled-callsite check.\n\n",
    );
    out.push_str(&cost_table(run));

    out.push_str("\n## AWS calls per confirmed order\n\n");
    out.push_str(
        "<!-- Section fed by the load run's counts; see tools/bench/src/aws_calls.rs. -->\n\n",
    );
    out.push_str(&aws_calls_section(run));

    out.push_str("\n## What was tried\n\n");
    out.push_str(run.what_was_tried.trim());
    out.push('\n');
    out
}
