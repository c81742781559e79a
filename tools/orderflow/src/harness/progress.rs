//! What a run tells the person watching, on stderr (stdout carries its JSON report): a line
//! prefixed with the run's name, and a progress bar on a terminal.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Progress lines of one kind of run: `chaos | placing 300 orders`.
#[derive(Debug, Clone, Copy)]
pub struct Say(pub &'static str);

impl Say {
    pub fn line(self, text: &str) {
        eprintln!("{} | {text}", self.0);
    }

    /// A bar counting `len` things, drawn only when asked and stderr is a terminal.
    pub fn bar(self, len: usize, visible: bool, what: &str) -> ProgressBar {
        let target = if visible && std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(u64::try_from(len).unwrap_or(0)), target);
        let template = format!(
            "{} | [{{elapsed_precise}}] {{bar:40}} {{pos}}/{{len}} {what} ({{per_sec}}) {{msg}}",
            self.0
        );
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style);
        }
        bar
    }
}
