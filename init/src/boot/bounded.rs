//! A command the boot runs itself and waits for, bounded: started through PID 1's reaper
//! (`supervisor::spawn::launch_captured`, never a bare `tokio::process`, whose own `waitpid` races
//! the reaper's), its stdout and stderr collected, its whole process group killed at the limit.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

use crate::pid1::reaper::Reaper;
use crate::supervisor::spawn;
use crate::supervisor::state::ExitOutcome;

/// How long the pipes are still read after the command ended: a leftover grandchild holding one
/// open must not hold the boot.
const DRAIN: Duration = Duration::from_secs(1);

/// How a bounded command ended.
#[derive(Debug)]
pub struct Ran {
    /// Its exit, or `None` when it was killed at the limit.
    pub outcome: Option<ExitOutcome>,
    /// What it wrote to stdout.
    pub stdout: String,
    /// What it wrote to stderr.
    pub stderr: String,
}

impl Ran {
    /// Its stdout then its stderr.
    pub fn output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Why a bounded command gave no result.
#[derive(Debug, thiserror::Error)]
pub enum BoundedError {
    /// It could not be started.
    #[error(transparent)]
    Spawn(#[from] spawn::SpawnError),
    /// The reaper lost its exit (the reaper's channel closed): its outcome is unknown.
    #[error("lost track of {program}")]
    Lost {
        /// The program, or "the command" for an empty argv.
        program: String,
    },
}

/// Runs `argv` through the reaper, killing its process group after `limit`; an error when it
/// cannot start.
pub async fn run(reaper: &Reaper, argv: &[String], limit: Duration) -> Result<Ran, BoundedError> {
    let started = spawn::launch_captured(reaper, argv)?;
    let stdout = tokio::spawn(read_all(started.stdout));
    let stderr = tokio::spawn(read_all(started.stderr));
    let outcome = match tokio::time::timeout(limit, started.exit).await {
        Ok(Ok(end)) => Some(end),
        Ok(Err(_)) => {
            let program = argv.first().map_or("the command", String::as_str);
            return Err(BoundedError::Lost {
                program: program.to_string(),
            });
        }
        Err(_) => {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(started.pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            None
        }
    };
    let mut text = [String::new(), String::new()];
    for (pipe, text) in [stdout, stderr].into_iter().zip(&mut text) {
        if let Ok(Ok(bytes)) = tokio::time::timeout(DRAIN, pipe).await {
            *text = String::from_utf8_lossy(&bytes).into_owned();
        }
    }
    let [stdout, stderr] = text;
    Ok(Ran {
        outcome,
        stdout,
        stderr,
    })
}

async fn read_all(pipe: Option<impl AsyncRead + Unpin>) -> Vec<u8> {
    let mut bytes = Vec::new();
    if let Some(mut pipe) = pipe {
        let _ = pipe.read_to_end(&mut bytes).await;
    }
    bytes
}

#[cfg(test)]
mod tests {

    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|s| s.to_string()).collect()
    }

    /// Real commands through the reaper (no root needed).
    #[tokio::test]
    async fn output_is_collected_and_a_command_past_its_limit_is_killed() {
        let polled = crate::pid1::reaper::Polled::start();
        let reaper = &polled.reaper;
        let ran = run(
            reaper,
            &argv(&["sh", "-c", "echo out; echo err >&2; exit 3"]),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
        assert_eq!(ran.outcome, Some(ExitOutcome::Code(3)));
        assert_eq!(
            (ran.stdout.as_str(), ran.stderr.as_str()),
            ("out\n", "err\n")
        );
        assert_eq!(ran.output(), "out\nerr\n");
        let slow = run(reaper, &argv(&["sleep", "30"]), Duration::from_millis(200))
            .await
            .unwrap();
        assert_eq!(slow.outcome, None);
        assert!(
            run(
                reaper,
                &argv(&["/nonexistent/program"]),
                Duration::from_secs(1)
            )
            .await
            .is_err()
        );
    }
}
