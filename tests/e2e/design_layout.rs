//! docs/DESIGN.md §3 draws the library's module tree; this keeps the drawing true. Every module
//! the tree names exists, and every module file of `shared/src` is in the tree (test modules —
//! `tests.rs`, `tests/`, `properties.rs` — aside).
//!
//! The tree's grammar: under the marker `<!-- module-tree:shared/src -->`, a fenced block whose
//! entries are indented two spaces per level; an entry is `name/` (a folder) or `name.rs` (a
//! file), then a description whose parenthesised list names the folder's modules
//! (`(mod, values, order: the state machine)`: the word before any `:` is the module). A line
//! indented past the entries' column continues the entry above it.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use crate::support::repo_root;

const MARKER: &str = "<!-- module-tree:shared/src -->";
/// Entries start at most this deep; a line indented further continues the entry above.
const DEEPEST_ENTRY_COLUMN: usize = 8;

#[derive(Debug, Default)]
struct Tree {
    /// Paths relative to `shared/src`: folders end with `/`, modules are `dir/name`.
    folders: BTreeSet<String>,
    files: BTreeSet<String>,
}

/// The entries of the drawing, each with its description joined across continuation lines.
fn entries(design: &str) -> Vec<(usize, String, String)> {
    let after = design
        .split(MARKER)
        .nth(1)
        .expect("the module-tree marker in DESIGN.md");
    let block = after
        .split("```")
        .nth(1)
        .expect("a fenced block after the marker");
    let mut out: Vec<(usize, String, String)> = Vec::new();
    for line in block.lines().skip(2) {
        let indent = line.len() - line.trim_start().len();
        if line.trim().is_empty() {
            continue;
        }
        if indent > DEEPEST_ENTRY_COLUMN {
            if let Some(last) = out.last_mut() {
                last.2.push(' ');
                last.2.push_str(line.trim());
            }
            continue;
        }
        let mut parts = line.trim().splitn(2, char::is_whitespace);
        let name = parts.next().unwrap_or_default().to_owned();
        let description = parts.next().unwrap_or_default().trim().to_owned();
        out.push((indent / 2, name, description));
    }
    out
}

/// The modules a description's parenthesised list names.
fn listed_modules(description: &str) -> Vec<String> {
    let Some(open) = description.find('(') else {
        return Vec::new();
    };
    let inner = &description[open + 1..description.rfind(')').unwrap_or(description.len())];
    inner
        .split(',')
        .filter_map(|item| item.split(':').next())
        .filter_map(|m| m.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

fn drawn(design: &str) -> Tree {
    let mut tree = Tree::default();
    let mut path: Vec<String> = Vec::new();
    for (level, name, description) in entries(design) {
        path.truncate(level.saturating_sub(1));
        let prefix: String = path.concat();
        if let Some(folder) = name.strip_suffix('/') {
            let here = format!("{prefix}{folder}/");
            tree.folders.insert(here.clone());
            for module in listed_modules(&description) {
                tree.files.insert(format!("{here}{module}"));
            }
            path.push(format!("{folder}/"));
        } else if let Some(file) = name.strip_suffix(".rs") {
            tree.files.insert(format!("{prefix}{file}"));
        }
    }
    tree
}

fn is_test_module(name: &str) -> bool {
    matches!(name, "tests" | "properties")
}

/// Every module file under `dir` (relative to `root`), as `folder/name` without `.rs`, with
/// each folder that has a `mod.rs` (a module folder) as `folder/`.
fn on_disk(root: &Path, dir: &Path, out: &mut Tree) {
    for entry in fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let relative = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if is_test_module(&name) {
                continue;
            }
            if path.join("mod.rs").is_file() {
                out.folders.insert(format!("{relative}/"));
            }
            on_disk(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") && !is_test_module(&name) {
            out.files
                .insert(relative.trim_end_matches(".rs").to_owned());
        }
    }
}

/// A module folder's `mod` may be drawn as an item of its parent (`memory` in `(…, memory)`).
fn drawn_or_parent_lists(tree: &Tree, module: &str) -> bool {
    tree.files.contains(module)
        || module.strip_suffix("/mod").is_some_and(|folder| {
            tree.files.contains(folder) || tree.folders.contains(&format!("{folder}/"))
        })
}

#[test]
fn the_module_tree_in_design_matches_the_library_files() {
    let root = repo_root();
    let design = fs::read_to_string(root.join("docs/DESIGN.md")).unwrap();
    let tree = drawn(&design);
    let src = root.join("shared/src");
    let mut disk = Tree::default();
    on_disk(&src, &src, &mut disk);

    let undrawn: Vec<&String> = disk
        .files
        .iter()
        .filter(|m| !drawn_or_parent_lists(&tree, m))
        .collect();
    let missing: Vec<&String> = tree
        .files
        .iter()
        .filter(|m| !disk.files.contains(*m) && !disk.folders.contains(&format!("{m}/")))
        .collect();
    assert!(
        undrawn.is_empty() && missing.is_empty(),
        "docs/DESIGN.md §3's module tree is out of date.\n  in shared/src but not drawn: {undrawn:?}\n  drawn but not in shared/src: {missing:?}"
    );
}

#[test]
fn the_tree_reader_reads_folders_their_modules_and_continued_lines() {
    let design = format!(
        "{MARKER}\n```\nshared/src/\n  lib.rs\n  domain/           values (mod, values, order: the\n                    state machine)\n  adapters/         ports (mod,\n                    sns)\n    dynamodb/       stores (mod, orders)\n  config.rs         config\n```\n"
    );
    let tree = drawn(&design);
    let files: Vec<&str> = tree.files.iter().map(String::as_str).collect();
    assert_eq!(
        files,
        [
            "adapters/dynamodb/mod",
            "adapters/dynamodb/orders",
            "adapters/mod",
            "adapters/sns",
            "config",
            "domain/mod",
            "domain/order",
            "domain/values",
            "lib"
        ]
    );
    assert!(tree.folders.contains("adapters/dynamodb/"));
}
