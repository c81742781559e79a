//! What every subcommand does at its edge: say what failed and exit non-zero, stop on Ctrl-C
//! or SIGTERM, print its report as JSON.

use std::fmt::Display;
use std::future::Future;
use std::process::ExitCode;

use serde::Serialize;

/// `orderflow: <why>` on stderr; the exit code of a failed command.
pub fn fail(e: &dyn Display) -> ExitCode {
    eprintln!("orderflow: {e}");
    ExitCode::FAILURE
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = ctrl_c.await;
        }
    }
}

/// Runs a command until it ends or a signal comes. A signal drops the run, and with it the
/// local cloud it started and every process of that cloud.
pub async fn until_signal<T, E: Display>(
    run: impl Future<Output = Result<T, E>>,
) -> Result<T, ExitCode> {
    tokio::select! {
        result = run => result.map_err(|e| fail(&e)),
        () = wait_for_signal() => Err(fail(&"interrupted; the local cloud is stopped")),
    }
}

/// The report on stdout: one line with `one_line` (for scripts), else indented.
pub fn print_json<T: Serialize>(report: &T, one_line: bool) -> Result<(), ExitCode> {
    let text = if one_line {
        serde_json::to_string(report)
    } else {
        serde_json::to_string_pretty(report)
    };
    let text = text.map_err(|e| fail(&e))?;
    println!("{text}");
    Ok(())
}
