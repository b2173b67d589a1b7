//! Phase `time`: write chrony's config from the machine config (`host::chrony`) and, when it names
//! servers or pools, set the clock once with `chronyd -q`, giving up after
//! `plinth.time.boot_timeout` (30 s by default) and saying so: the boot never waits on the
//! network's clock forever. With no source configured the phase says so and goes on at once. The
//! `chronyd` built-in service keeps the clock in sync afterwards.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::boot::BootContext;
use crate::boot::sequence::{PhaseError, PhaseResult};
use crate::host::chrony::{self, CHRONYD, CONF, STATE_DIR};

/// Slack over chronyd's own `-t` before the phase kills it.
const GRACE: Duration = Duration::from_secs(5);

/// Writes chrony.conf and waits a bounded time for a first sync.
pub async fn run(ctx: &mut BootContext) -> PhaseResult {
    if !ctx.mode.owns_machine() {
        return Ok("container mode: nothing to apply".into());
    }
    let Some(loaded) = &ctx.config else {
        return Err(PhaseError("no config was loaded".into()));
    };
    let Some(plan) = chrony::plan(&loaded.config) else {
        return Ok("time sync is off (ntp.enabled: false)".into());
    };
    if let Some(dir) = Path::new(CONF).parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| PhaseError(format!("cannot create {}: {e}", dir.display())))?;
    }
    std::fs::write(CONF, chrony::conf(&plan))
        .map_err(|e| PhaseError(format!("cannot write {CONF}: {e}")))?;
    // The drift file lives here; chronyd only warns without it, so neither does the phase.
    let _ = std::fs::create_dir_all(STATE_DIR);
    if !plan.has_sources() {
        return Ok(
            "no NTP server configured: chronyd runs with no sources, the clock is not synced"
                .into(),
        );
    }
    if !Path::new(CHRONYD).exists() {
        return Ok(format!(
            "{CHRONYD} is not installed: the clock is not synced"
        ));
    }
    let sources = plan.servers.len() + plan.pools.len();
    let started = Instant::now();
    let mut command = tokio::process::Command::new(CHRONYD);
    command
        .args(chrony::sync_once_args(plan.boot_timeout))
        .kill_on_drop(true);
    let waited = tokio::time::timeout(plan.boot_timeout + GRACE, command.output()).await;
    let took = started.elapsed().as_secs_f64();
    Ok(match waited {
        Ok(Ok(output)) if output.status.success() && synced(&output.stderr) => {
            format!("clock synced from {sources} sources in {took:.1}s")
        }
        Ok(Ok(output)) => format!(
            "no sync from {sources} sources within {}s ({}); going on, chronyd keeps trying",
            plan.boot_timeout.as_secs(),
            last_line(&output.stderr)
        ),
        Ok(Err(e)) => format!("cannot run {CHRONYD}: {e}; going on unsynced"),
        Err(_) => format!(
            "chronyd -q still running after {took:.0}s; stopped it, going on, chronyd keeps trying"
        ),
    })
}

/// chronyd -q says `System clock wrong by X seconds (step|slew)` once it has a measurement.
fn synced(stderr: &[u8]) -> bool {
    String::from_utf8_lossy(stderr).contains("System clock wrong by")
}

fn last_line(stderr: &[u8]) -> String {
    String::from_utf8_lossy(stderr)
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no output")
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sync_is_recognised_from_chronyds_words() {
        assert!(synced(b"2026-11-26T06:00:00Z chronyd version 4.6.1 starting\n2026-11-26T06:00:02Z System clock wrong by -0.000105 seconds (step)\n"));
        assert!(!synced(
            b"2026-11-26T06:00:30Z No suitable source for synchronisation\n"
        ));
        assert_eq!(
            last_line(b"a\nNo suitable source for synchronisation\n\n"),
            "No suitable source for synchronisation"
        );
    }
}
