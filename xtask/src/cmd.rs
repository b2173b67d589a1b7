//! Subprocesses: every command the xtask runs goes through here, so each is echoed before it runs
//! and a failure says which command failed and how.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

/// The workspace root (the directory holding the top-level `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// A command built from a program and its arguments, run from the workspace root.
pub fn cmd<I, S>(program: &str, args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut c = Command::new(program);
    c.args(args).current_dir(workspace_root());
    c
}

/// Echoes and runs `command`, failing when it exits non-zero; prints the elapsed time.
pub fn run(command: &mut Command) -> Result<()> {
    let shown = show(command);
    eprintln!("$ {shown}");
    let started = Instant::now();
    let status = command.status().with_context(|| {
        format!("could not start `{shown}`: is it installed? try `cargo xtask prereqs`")
    })?;
    if !status.success() {
        bail!(
            "`{shown}` failed ({status}) after {:.1}s",
            started.elapsed().as_secs_f64()
        );
    }
    eprintln!("  ok in {:.1}s: {shown}", started.elapsed().as_secs_f64());
    Ok(())
}

/// Runs `command` quietly and returns its stdout, failing with its stderr when it exits non-zero.
pub fn output(command: &mut Command) -> Result<String> {
    let shown = show(command);
    let out = command
        .output()
        .with_context(|| format!("could not start `{shown}`"))?;
    if !out.status.success() {
        bail!(
            "`{shown}` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The command line as a user would type it.
pub fn show(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}
