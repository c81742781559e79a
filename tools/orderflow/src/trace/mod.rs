//! `orderflow trace ORDER_ID`: one order's timeline from what the local cloud recorded — every
//! delivery (with its receive count), invocation, fault, AWS call (with its duration) and how
//! each record ended, in order, with function and reason.
//!
//! - [`record`]: what the local cloud writes to `<state dir>/trace.jsonl`;
//! - [`timeline`]: the order's timeline built from it ([`timeline()`] is the entry point the
//!   console shares);
//! - [`render`]: the text `orderflow trace` prints.

pub mod record;
pub mod render;
mod timeline;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub use timeline::{attempts, build, Entry, Timeline, What};

use crate::cli::{fail, print_json};

#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error(
        "cannot read {path}: {source} (is this the state dir of a local cloud? `--state-dir`)"
    )]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the local cloud recorded nothing about order {0}")]
    UnknownOrder(String),
}

/// The timeline of `order_id` from the records in `state_dir`.
pub fn timeline(state_dir: &Path, order_id: &str) -> Result<Timeline, TraceError> {
    let records = record::read(state_dir).map_err(|source| TraceError::Unreadable {
        path: state_dir.join(record::TRACE_FILE),
        source,
    })?;
    let timeline = build(&records, order_id);
    if timeline.entries.is_empty() {
        return Err(TraceError::UnknownOrder(order_id.to_owned()));
    }
    Ok(timeline)
}

#[derive(clap::Args)]
pub struct TraceArgs {
    /// The order (its id as `POST /orders` answered it).
    order_id: String,
    /// The state dir of the local cloud that ran it.
    #[arg(long, default_value = ".orderflow")]
    state_dir: PathBuf,
    /// The timeline as JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub fn command(args: &TraceArgs) -> ExitCode {
    match timeline(&args.state_dir, &args.order_id) {
        Ok(timeline) if args.json => match print_json(&timeline, false) {
            Ok(()) => ExitCode::SUCCESS,
            Err(code) => code,
        },
        Ok(timeline) => {
            print!("{}", render::text(&timeline));
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}
