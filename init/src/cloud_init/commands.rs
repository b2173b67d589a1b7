//! `bootcmd` and `runcmd`: each entry run in turn (a string through `sh -c`, a list as argv), its
//! stdout and stderr printed to the console line by line as `[runcmd.1] …` and appended to the log
//! file `<log dir>/cloud-init.log`. A failing entry is reported and the next one still runs, as in
//! cloud-init's runcmd script; an entry still running after [`COMMAND_LIMIT`] is killed (its whole
//! process group) so the boot goes on. Children are registered with PID 1's reaper.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use plinth_config::cloud_init::Command;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

use crate::console;
use crate::pid1::reaper::Reaper;
use crate::supervisor::spawn;
use crate::supervisor::state::ExitOutcome;

/// How long one command may run.
pub const COMMAND_LIMIT: Duration = Duration::from_secs(600);

/// The log file the commands' output is appended to, under `log_dir`.
pub fn log_path(log_dir: &Path) -> PathBuf {
    log_dir.join("cloud-init.log")
}

/// The label of entry `index` (from 1) of `kind` (`bootcmd`, `runcmd`).
pub fn label(kind: &str, index: usize) -> String {
    format!("{kind}.{index}")
}

/// What one command did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Its label.
    pub label: String,
    /// How it ended, or why it could not start (the [`spawn::SpawnError`] in words: outcomes are
    /// compared and cloned into reports).
    pub result: Result<ExitOutcome, String>,
}

impl Outcome {
    /// Whether it ran and exited 0.
    pub fn succeeded(&self) -> bool {
        matches!(self.result, Ok(ExitOutcome::Code(0)))
    }
}

/// A one-line summary of `outcomes`: `3 run, 1 failed (runcmd.2: exit 1)`.
pub fn summary(outcomes: &[Outcome]) -> String {
    let failed: Vec<String> = outcomes
        .iter()
        .filter(|o| !o.succeeded())
        .map(|o| match &o.result {
            Ok(end) => format!("{}: {end}", o.label),
            Err(why) => format!("{}: {why}", o.label),
        })
        .collect();
    if failed.is_empty() {
        format!("{} run", outcomes.len())
    } else {
        format!(
            "{} run, {} failed ({})",
            outcomes.len(),
            failed.len(),
            failed.join("; ")
        )
    }
}

/// Runs `commands` of `kind` in order.
pub async fn run_all(
    reaper: &Reaper,
    kind: &str,
    commands: &[Command],
    log: Option<&Path>,
) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    for (i, command) in commands.iter().enumerate() {
        outcomes.push(run_labelled(reaper, label(kind, i + 1), &command.argv(), log).await);
    }
    outcomes
}

/// Runs one command under `label` (output and log as for [`run_all`]'s entries).
pub async fn run_labelled(
    reaper: &Reaper,
    label: String,
    argv: &[String],
    log: Option<&Path>,
) -> Outcome {
    let result = run_one(reaper, &label, argv, log).await.map_err(|why| {
        console::say(&format!("{label}: {why}"));
        why.to_string()
    });
    Outcome { label, result }
}

async fn run_one(
    reaper: &Reaper,
    label: &str,
    argv: &[String],
    log: Option<&Path>,
) -> Result<ExitOutcome, spawn::SpawnError> {
    let started = spawn::launch_captured(reaper, argv)?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    if let Some(out) = started.stdout {
        tokio::spawn(forward(out, tx.clone()));
    }
    if let Some(err) = started.stderr {
        tokio::spawn(forward(err, tx.clone()));
    }
    drop(tx);
    let mut file = log.and_then(|path| {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .ok()
    });
    let mut say = |line: &str| {
        console::service_output(label, line);
        if let Some(f) = file.as_mut() {
            let _ = writeln!(f, "[{label}] {line}");
        }
    };
    let mut exit = started.exit;
    let deadline = tokio::time::sleep(COMMAND_LIMIT);
    tokio::pin!(deadline);
    let mut killed = false;
    let end = loop {
        tokio::select! {
            Some(line) = rx.recv() => say(&line),
            outcome = &mut exit => break outcome.unwrap_or(ExitOutcome::Signal(libc::SIGKILL)),
            () = &mut deadline, if !killed => {
                killed = true;
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(started.pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
                say(&format!("still running after {}s, killed", COMMAND_LIMIT.as_secs()));
            }
        }
    };
    // The rest of the output, until the pipes close (or briefly, when a background child it left
    // behind keeps them open).
    let drained = tokio::time::Instant::now() + Duration::from_secs(2);
    while let Ok(Some(line)) = tokio::time::timeout_at(drained, rx.recv()).await {
        say(&line);
    }
    say(&end.to_string());
    Ok(end)
}

async fn forward(stream: impl AsyncRead + Unpin, tx: tokio::sync::mpsc::UnboundedSender<String>) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if tx.send(line).is_err() {
            break;
        }
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn summaries_name_the_failures() {
        let ok = Outcome {
            label: label("runcmd", 1),
            result: Ok(ExitOutcome::Code(0)),
        };
        let bad = Outcome {
            label: label("runcmd", 2),
            result: Ok(ExitOutcome::Code(3)),
        };
        assert_eq!(summary(std::slice::from_ref(&ok)), "1 run");
        assert_eq!(summary(&[ok, bad]), "2 run, 1 failed (runcmd.2: exit 3)");
    }

    /// Runs real commands through the reaper (no root needed).
    #[tokio::test]
    async fn commands_run_in_order_with_output_logged_and_failures_reported() {
        let polled = crate::pid1::reaper::Polled::start();
        let reaper = &polled.reaper;
        let dir = std::env::temp_dir().join(format!("plinth-cmd-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let log = log_path(&dir);
        let commands: Vec<Command> = plinth_config::parse(
            "t",
            "#cloud-config\nruncmd:\n  - echo first; echo oops >&2\n  - [sh, -c, 'exit 4']\n  - [/nonexistent/program]\n",
        )
        .unwrap()
        .config
        .runcmd;
        let outcomes = run_all(reaper, "runcmd", &commands, Some(&log)).await;
        assert!(outcomes[0].succeeded(), "{outcomes:?}");
        assert_eq!(outcomes[1].result, Ok(ExitOutcome::Code(4)));
        assert!(outcomes[2].result.is_err());
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.contains("[runcmd.1] first\n"), "{text}");
        assert!(text.contains("[runcmd.1] oops\n"), "{text}");
        assert!(text.contains("[runcmd.2] exit 4\n"), "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
