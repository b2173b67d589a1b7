//! Repository rules checked as tests (rust-analyzer's `tidy` idea): things a reviewer would otherwise
//! have to remember. Runs under `cargo xtask test` with the xtask's own unit tests.
//!
//! - every Rust source file starts with a `//!` paragraph saying what it owns (modules) or, for a
//!   binary's `main.rs`, what the binary is;
//! - member crates take every third-party dependency from `[workspace.dependencies]`, so each version is
//!   pinned once;
//! - no trailing whitespace or tabs in Rust sources.

#![cfg(test)]

use std::path::{Path, PathBuf};

use crate::cmd::workspace_root;

/// The directories holding Rust code of the project.
const RUST_DIRS: [&str; 6] = [
    "configs",
    "init",
    "agents",
    "xtask",
    "qemu-tests",
    "virt-check",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn all_rust_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in RUST_DIRS {
        rust_files(&workspace_root().join(dir), &mut files);
    }
    files.sort();
    files
}

/// Test files (`tests/`, fixtures) need no `//!` header; only library and binary sources do.
fn needs_header(path: &Path) -> bool {
    path.components().any(|c| c.as_os_str() == "src")
}

#[test]
fn every_source_file_says_what_it_owns() {
    let missing: Vec<String> = all_rust_files()
        .into_iter()
        .filter(|p| needs_header(p))
        .filter(|p| {
            let text = std::fs::read_to_string(p).unwrap_or_default();
            !text.trim_start().starts_with("//!")
        })
        .map(|p| {
            p.strip_prefix(workspace_root())
                .unwrap_or(&p)
                .display()
                .to_string()
        })
        .collect();
    assert!(
        missing.is_empty(),
        "these files do not start with a `//!` paragraph saying what they own:\n  {}",
        missing.join("\n  ")
    );
}

#[test]
fn no_trailing_whitespace_or_tabs() {
    let mut bad = Vec::new();
    for path in all_rust_files() {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        for (n, line) in text.lines().enumerate() {
            if line.ends_with(' ') || line.contains('\t') {
                bad.push(format!(
                    "{}:{}",
                    path.strip_prefix(workspace_root())
                        .unwrap_or(&path)
                        .display(),
                    n + 1
                ));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "trailing whitespace or tabs at:\n  {}",
        bad.join("\n  ")
    );
}

#[test]
fn dependencies_are_pinned_once_in_the_workspace() {
    let mut bad = Vec::new();
    for dir in RUST_DIRS {
        let manifest = workspace_root().join(dir).join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest).unwrap_or_default();
        let mut in_deps = false;
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('[') {
                in_deps = line.contains("dependencies");
                continue;
            }
            if in_deps
                && !line.is_empty()
                && !line.starts_with('#')
                && !line.contains("workspace = true")
            {
                bad.push(format!("{dir}/Cargo.toml: `{line}`"));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "pin these in the root Cargo.toml's [workspace.dependencies] and use `workspace = true`:\n  {}",
        bad.join("\n  ")
    );
}
