//! Every shell command in README.md that is meant to run, run as written against a local cloud
//! of this test's own (its ports put in place of 3000 and 4566, its state folder in
//! `ORDERFLOW_STATE_DIR`), checking what the README says each prints.
//!
//! The README's conventions, which this test reads:
//! - a ```` ```sh ```` block runs, step by step, in one bash (variables carry over);
//! - `<!-- not-run: why -->` on the line before a block skips it (it starts a cloud of its own,
//!   deploys, runs for minutes, …);
//! - `<!-- background: until "TEXT" -->` runs the block in the background (e.g. `make watch`)
//!   until its output shows TEXT; it is stopped at the end;
//! - `# …` lines right after a command are what it prints: each must match a line of its output,
//!   `…` standing for anything. A step whose check fails is run again for a while when it only
//!   reads (the chain takes a moment to confirm an order).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::{repo_root, Cloud, CloudOptions};

#[derive(Debug, Clone, PartialEq)]
enum Mode {
    Run,
    NotRun,
    Background { until: String },
}

#[derive(Debug, Clone)]
struct Block {
    /// The `##` section it is in.
    section: String,
    mode: Mode,
    text: String,
}

/// The README's ```sh blocks, each with the marker on the line before it.
fn blocks(readme: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let (mut section, mut previous) = (String::new(), String::new());
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        if let Some(title) = line.strip_prefix("## ") {
            section = title.to_owned();
        }
        if line.trim() == "```sh" {
            let text: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
            let mode = if previous.starts_with("<!-- not-run") {
                Mode::NotRun
            } else if let Some(rest) = previous.strip_prefix("<!-- background: until \"") {
                Mode::Background {
                    until: rest.split('"').next().unwrap_or_default().to_owned(),
                }
            } else {
                Mode::Run
            };
            blocks.push(Block {
                section: section.clone(),
                mode,
                text: text.join("\n"),
            });
        }
        if !line.trim().is_empty() {
            previous = line.trim().to_owned();
        }
    }
    blocks
}

#[derive(Debug, Clone, PartialEq)]
struct Step {
    commands: String,
    expect: Vec<String>,
}

/// A block's steps: commands (with their continuation lines) and the `# ` lines after them.
fn steps(block: &str) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut current: Option<Step> = None;
    for line in block.lines() {
        let trimmed = line.trim();
        if let Some(expected) = trimmed.strip_prefix("# ") {
            if let Some(step) = current.as_mut() {
                step.expect.push(expected.to_owned());
            }
        } else if trimmed.is_empty() {
            steps.extend(current.take());
        } else {
            if current.as_ref().is_some_and(|s| !s.expect.is_empty()) {
                steps.extend(current.take());
            }
            let step = current.get_or_insert_with(|| Step {
                commands: String::new(),
                expect: Vec::new(),
            });
            step.commands.push_str(line);
            step.commands.push('\n');
        }
    }
    steps.extend(current);
    steps
}

/// Whether `line` contains `pattern`, `…` in it matching anything.
fn matches(pattern: &str, line: &str) -> bool {
    let mut rest = line;
    for (i, part) in pattern.split('…').enumerate() {
        match rest.find(part) {
            // The first part may start anywhere: a pattern matches inside a line.
            Some(at) if i == 0 || !part.is_empty() => rest = &rest[at + part.len()..],
            Some(_) => {}
            None => return false,
        }
    }
    true
}

/// A step that only reads can be run again until the chain has caught up.
fn only_reads(commands: &str) -> bool {
    ["-X POST", "redrive", "invoke", "fixtures load", "tee "]
        .iter()
        .all(|w| !commands.contains(w))
}

/// A shell as a reader's, not as the test runner's: the variables cargo and nextest set for a
/// test would make the cargo that `make watch` runs rebuild what `make dev` built.
fn readers_shell(command: &mut Command, env: &[(String, String)]) {
    for (key, _) in std::env::vars() {
        if (key.starts_with("CARGO_") && key != "CARGO_HOME") || key.starts_with("NEXTEST") {
            command.env_remove(key);
        }
    }
    command.current_dir(repo_root()).envs(env.iter().cloned());
}

/// One bash the steps run in, one after the other, its output read line by line.
struct Shell {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
}

const DONE: &str = "@@readme-step-done";

impl Shell {
    fn start(env: &[(String, String)]) -> Shell {
        let mut bash = Command::new("bash");
        readers_shell(&mut bash, env);
        let mut child = bash
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            // Bytes, not text: a line that is not UTF-8 must not end the reading.
            let mut reader = BufReader::new(stdout);
            let mut line = Vec::new();
            while reader.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                let text = String::from_utf8_lossy(&line).trim_end().to_owned();
                if tx.send(text).is_err() {
                    return;
                }
                line.clear();
            }
        });
        let mut shell = Shell {
            child,
            stdin,
            lines,
        };
        shell.send("exec 2>&1\n");
        shell
    }

    fn send(&mut self, text: &str) {
        self.stdin.write_all(text.as_bytes()).unwrap();
        self.stdin.flush().unwrap();
    }

    /// Runs `commands`; their output and exit status.
    fn run(&mut self, commands: &str) -> (Vec<String>, String) {
        // The marker on a line of its own even after output without a final newline.
        // stdin from /dev/null: a command that reads it would swallow the steps after it.
        self.send(&format!(
            "{{\n{commands}\n}} < /dev/null\nprintf '\\n{DONE} %s\\n' \"$?\"\n"
        ));
        let mut output = Vec::new();
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(900))
                .unwrap_or_else(|e| panic!("{commands}: no end ({e}); so far: {output:?}"));
            if let Some(status) = line.strip_prefix(DONE) {
                return (output, status.trim().to_owned());
            }
            output.push(line.trim_end_matches('\r').to_owned());
        }
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A block running in the background, in a process group of its own, stopped when dropped.
struct Background {
    child: Child,
    output: Arc<Mutex<Vec<String>>>,
}

impl Background {
    fn start(text: &str, env: &[(String, String)], until: &str) -> Background {
        let mut bash = Command::new("bash");
        readers_shell(&mut bash, env);
        let mut child = bash
            .arg("-c")
            .arg(format!("exec 2>&1\n{text}"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        let output = Arc::new(Mutex::new(Vec::new()));
        let (stdout, sink) = (child.stdout.take().unwrap(), output.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let mut background = Background { child, output };
        let deadline = Instant::now() + Duration::from_secs(120);
        while !background.lines().iter().any(|l| l.contains(until)) {
            let exited = background.child.try_wait().ok().flatten();
            assert!(
                Instant::now() < deadline && exited.is_none(),
                "{text}: never printed {until:?} ({exited:?}):\n{}",
                background.lines().join("\n")
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        background
    }

    fn lines(&self) -> Vec<String> {
        self.output.lock().unwrap().clone()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        // The whole group: make, cargo lambda watch and the function it runs. Ctrl-C, as the
        // README says; cargo lambda watch does not stop on SIGTERM. Killed if it lingers.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-INT", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = Command::new("kill").args(["-KILL", &group]).status();
        let _ = self.child.wait();
    }
}

/// The README's text with the test cloud's ports in place of the documented ones.
fn with_ports(text: &str, cloud: &Cloud, watch_port: u16) -> String {
    let host = |url: &str| url.trim_start_matches("http://").to_owned();
    text.replace("127.0.0.1:3000", &host(&cloud.api))
        .replace("127.0.0.1:4566", &host(&cloud.endpoint))
        .replace(
            "--invoke-address 127.0.0.1",
            &format!("--invoke-address 127.0.0.1 --invoke-port {watch_port}"),
        )
}

fn run_step(shell: &mut Shell, section: &str, step: &Step) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (output, status) = shell.run(&step.commands);
        let missing: Vec<&String> = step
            .expect
            .iter()
            .filter(|e| !output.iter().any(|line| matches(e, line)))
            .collect();
        if status == "0" && missing.is_empty() {
            return;
        }
        if !only_reads(&step.commands) || Instant::now() > deadline {
            panic!(
                "README, {section}:\n{}exited {status}; expected lines not printed: {missing:?}\noutput:\n{}",
                step.commands,
                output.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_the_readme_shows_works_as_written() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let blocks = blocks(&readme);
    // The sections a newcomer follows first must stay runnable.
    for section in [
        "Place an order",
        "Look inside with the AWS CLI",
        "Dead-letter queues",
        "Run one function with a fixture",
    ] {
        assert!(
            blocks
                .iter()
                .any(|b| b.section == section && b.mode != Mode::NotRun),
            "README section {section:?} has no block that runs"
        );
    }
    let cloud = Cloud::start_with(CloudOptions {
        auth: false,
        ..CloudOptions::default()
    })
    .await;
    let watch_port = orderflow::local::free_port().unwrap();
    let env = vec![
        (
            "ORDERFLOW_STATE_DIR".to_owned(),
            cloud.state_dir.display().to_string(),
        ),
        ("WATCH_PORT".to_owned(), watch_port.to_string()),
    ];
    let readme_blocks: Vec<Block> = blocks
        .into_iter()
        .filter(|b| b.mode != Mode::NotRun)
        .map(|b| Block {
            text: with_ports(&b.text, &cloud, watch_port),
            ..b
        })
        .collect();
    tokio::task::spawn_blocking(move || {
        let mut shell = Shell::start(&env);
        let mut background = Vec::new();
        for block in &readme_blocks {
            match &block.mode {
                Mode::Background { until } => {
                    background.push(Background::start(&block.text, &env, until));
                }
                _ => {
                    for step in steps(&block.text) {
                        run_step(&mut shell, &block.section, &step);
                    }
                }
            }
        }
        drop(background);
    })
    .await
    .unwrap();
    drop(cloud);
}

#[test]
fn the_readme_reader_finds_blocks_markers_steps_and_expectations() {
    let readme = "## One\n\n```sh\ncurl -s x \\\n  -d y\n# {\"a\":…}\nnext\n```\n\n## Two\n<!-- not-run: slow -->\n```sh\nmake chaos\n```\n<!-- background: until \"ready\" -->\n```sh\nmake watch FN=f\n```\n```text\nnot shell\n```\n";
    let found = blocks(readme);
    let modes: Vec<_> = found
        .iter()
        .map(|b| (b.section.as_str(), b.mode.clone()))
        .collect();
    assert_eq!(
        modes,
        [
            ("One", Mode::Run),
            ("Two", Mode::NotRun),
            (
                "Two",
                Mode::Background {
                    until: "ready".into()
                }
            )
        ]
    );
    assert_eq!(
        steps(&found[0].text),
        [
            Step {
                commands: "curl -s x \\\n  -d y\n".into(),
                expect: vec!["{\"a\":…}".into()],
            },
            Step {
                commands: "next\n".into(),
                expect: vec![],
            }
        ]
    );
    assert!(matches("{\"a\":…}", "x {\"a\":1}"));
    assert!(matches("HTTP/1.1 202 Accepted", "HTTP/1.1 202 Accepted"));
    assert!(!matches(
        "HTTP/1.1 202 Accepted",
        "HTTP/1.1 400 Bad Request"
    ));
    assert!(matches(
        "…\"status\":\"CONFIRMED\"…",
        "{\"status\":\"CONFIRMED\",\"x\":1}"
    ));
    assert!(!matches("a…b…c", "a c b"));
    assert!(only_reads("curl -s http://x/orders/1") && !only_reads("curl -X POST x"));
}
