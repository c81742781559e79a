//! Rules the whole repository keeps, checked by reading its files.

use std::fs;
use std::path::{Path, PathBuf};

use crate::function_length;
use crate::support::repo_root;

const FUNCTIONS: [&str; 6] = [
    "validate-order",
    "update-inventory",
    "process-payment",
    "send-notification",
    "query-api",
    "reconcile-orders",
];

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

fn sources_of_functions_and_shared() -> Vec<(PathBuf, String)> {
    let root = repo_root();
    let mut dirs = vec![root.join("shared/src")];
    dirs.extend(
        FUNCTIONS
            .iter()
            .map(|f| root.join("functions").join(f).join("src")),
    );
    dirs.iter()
        .flat_map(|d| rust_files(d))
        .map(|p| {
            let text = fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect()
}

#[test]
fn every_function_is_a_package_with_a_thin_main_and_a_handler_module() {
    let root = repo_root();
    for f in FUNCTIONS {
        let dir = root.join("functions").join(f);
        assert!(dir.join("Cargo.toml").is_file(), "{f}: Cargo.toml missing");
        assert!(
            dir.join("src/main.rs").is_file(),
            "{f}: src/main.rs missing"
        );
        assert!(
            dir.join("src/handler.rs").is_file(),
            "{f}: src/handler.rs missing"
        );
        let main = fs::read_to_string(dir.join("src/main.rs")).unwrap();
        assert!(main.lines().count() < 80, "{f}: main.rs should stay thin");
    }
}

#[test]
fn every_event_fixture_is_loaded_by_a_test() {
    let root = repo_root();
    let sources: String = sources_of_functions_and_shared()
        .into_iter()
        .map(|(_, text)| text)
        .chain(
            rust_files(&root.join("shared/tests"))
                .iter()
                .map(|p| fs::read_to_string(p).unwrap()),
        )
        .chain(
            rust_files(&root.join("tests"))
                .iter()
                .map(|p| fs::read_to_string(p).unwrap()),
        )
        .collect();
    let mut unreferenced = Vec::new();
    let mut count = 0;
    for entry in fs::read_dir(root.join("events")).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".json") {
            count += 1;
            if !sources.contains(&format!("\"{name}\"")) {
                unreferenced.push(name);
            }
        }
    }
    assert!(
        count >= 20,
        "expected the fixture set in events/, found {count} files"
    );
    assert!(
        unreferenced.is_empty(),
        "fixtures no test loads: {unreferenced:?}"
    );
}

/// Where a float is the interface and no money or quantity is involved: the `metrics` facade
/// records histogram values as `f64` (milliseconds, exact far below 2^53), and the SDK reports
/// DynamoDB's consumed capacity as `f64` (counted by the local cloud only, for the cost model).
const FLOATS_BY_INTERFACE: [&str; 2] =
    ["shared/src/telemetry/metrics/", "shared/src/aws/counting/"];

#[test]
fn no_floating_point_type_appears_in_domain_or_handler_code() {
    let offenders: Vec<String> = sources_of_functions_and_shared()
        .into_iter()
        .filter(|(path, _)| {
            let path = path.to_string_lossy();
            !FLOATS_BY_INTERFACE.iter().any(|dir| path.contains(dir))
        })
        .flat_map(|(path, text)| {
            text.lines()
                .enumerate()
                .filter(|(_, line)| {
                    let code = line.split("//").next().unwrap_or("");
                    code.split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                        .any(|tok| tok == "f32" || tok == "f64")
                })
                .map(|(n, _)| format!("{}:{}", path.display(), n + 1))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "money and quantities are integers: {offenders:?}"
    );
}

/// The tools' functions stay short enough to read at once (issue 16): `orderflow`, the template
/// model and rules, and `make bench`.
const TOOLS_LONGEST_FUNCTION: usize = 100;

/// How many functions under `dirs` were measured, and those over `limit` lines.
fn longer_than(dirs: &[&str], limit: usize) -> (usize, Vec<String>) {
    let root = repo_root();
    let mut measured = 0;
    let mut offenders = Vec::new();
    for dir in dirs {
        for path in rust_files(&root.join(dir)) {
            let text = fs::read_to_string(&path).unwrap();
            for f in function_length::functions(&text) {
                measured += 1;
                if f.lines > limit {
                    offenders.push(format!(
                        "{}:{} {} ({} lines)",
                        path.display(),
                        f.line,
                        f.name,
                        f.lines
                    ));
                }
            }
        }
    }
    (measured, offenders)
}

#[test]
fn no_function_in_the_tools_runs_over_a_hundred_lines() {
    let tools = ["tools/orderflow", "tools/template", "tools/bench"];
    let (measured, offenders) = longer_than(&tools, TOOLS_LONGEST_FUNCTION);
    assert!(measured > 300, "only {measured} functions found in tools/");
    assert!(
        offenders.is_empty(),
        "functions over {TOOLS_LONGEST_FUNCTION} lines: split them into named steps:\n{}",
        offenders.join("\n")
    );
}
