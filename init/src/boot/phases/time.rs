//! Phase `time`: write chrony's config from the machine config (`host::chrony`) and wait a bounded
//! time for a first sync, never longer than `plinth.time.boot_timeout` (30 s by default), saying how
//! it went: the boot never waits on the network's clock forever. The `chronyd` built-in service
//! keeps the clock in sync afterwards.
//!
//! - Servers or pools in the config: the phase sets the clock once with `chronyd -q`, giving up
//!   after boot_timeout.
//! - None: the servers come from the DHCP leases (chrony's `sourcedir`, fed by the image's dhcpcd
//!   hook). DHCP runs as a service, after this phase, so the phase only says so, and the wait is
//!   [`wait_for_dhcp_time`], which the `ready` phase runs once every service is ready. It waits for
//!   a first lease (the hook writes a file for each lease, with or without servers); when the
//!   leases name no NTP server it stops at once, otherwise `chronyc waitsync` waits for the sync;
//!   all within one boot_timeout. It waits only when both `chronyd` and `dhcp` run. So a
//!   DHCP-only node reports ready after its first lease (seconds) or, with NTP servers in the lease,
//!   after its first sync; with no lease at all, boot_timeout late.
//!
//! The commands run through PID 1's reaper (`supervisor::spawn`) and are killed, their whole
//! process group, at the limit.

use std::path::Path;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt};

use crate::boot::BootContext;
use crate::boot::sequence::{PhaseError, PhaseResult};
use crate::host::chrony::{
    self, CHRONYC, CHRONYD, CONF, DHCP_SOURCES_DIR, DhcpTime, STATE_DIR, TimePlan,
};
use crate::pid1::reaper::Reaper;
use crate::services::{chronyd, dhcp};
use crate::supervisor::spawn::{self, Launch};
use crate::supervisor::state::ExitOutcome;

/// Slack over chronyd's and chronyc's own limits before the phase kills them.
const GRACE: Duration = Duration::from_secs(5);
/// How often the DHCP wait looks for the hook's files.
const POLL: Duration = Duration::from_millis(200);

/// Writes chrony.conf and, with servers in the config, waits a bounded time for a first sync.
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
        // The hook creates it too; chronyd only warns about a missing sourcedir.
        let _ = std::fs::create_dir_all(DHCP_SOURCES_DIR);
        return Ok(format!(
            "no NTP server configured: chronyd takes those of the DHCP leases ({DHCP_SOURCES_DIR}); {}",
            if plan.boot_timeout.is_zero() {
                "no wait for a first sync (boot_timeout 0s)".to_string()
            } else {
                format!(
                    "the ready phase waits up to {}s for a first sync",
                    secs(plan.boot_timeout)
                )
            }
        ));
    }
    if !Path::new(CHRONYD).exists() {
        return Ok(format!(
            "{CHRONYD} is not installed: the clock is not synced"
        ));
    }
    let sources = plan.servers.len() + plan.pools.len();
    let started = Instant::now();
    let argv = [
        vec![CHRONYD.to_string()],
        chrony::sync_once_args(plan.boot_timeout),
    ]
    .concat();
    let ran = run_bounded(&ctx.reaper, &argv, plan.boot_timeout + GRACE).await;
    let took = started.elapsed().as_secs_f64();
    Ok(match ran {
        Ok(Ran {
            outcome: Some(end),
            output,
        }) if end.success() && synced(&output) => {
            format!("clock synced from {sources} sources in {took:.1}s")
        }
        Ok(Ran {
            outcome: Some(_),
            output,
        }) => format!(
            "no sync from {sources} sources within {}s ({}); going on, chronyd keeps trying",
            secs(plan.boot_timeout),
            last_line(&output)
        ),
        Ok(Ran { outcome: None, .. }) => format!(
            "chronyd -q still running after {took:.0}s; stopped it, going on, chronyd keeps trying"
        ),
        Err(e) => format!("{e}; going on unsynced"),
    })
}

/// The DHCP half of the wait (see the module doc), run by the `ready` phase: what to say, or `None`
/// when the config's own servers were waited for (or time sync is off, or this is a container).
pub async fn wait_for_dhcp_time(ctx: &BootContext) -> Option<String> {
    if !ctx.mode.owns_machine() {
        return None;
    }
    let plan = chrony::plan(&ctx.config.as_ref()?.config)?;
    if plan.has_sources() {
        return None;
    }
    if plan.boot_timeout.is_zero() {
        return Some("no wait for a DHCP-fed time sync (boot_timeout 0s)".into());
    }
    for service in [chronyd::NAME, dhcp::NAME] {
        if ctx.supervisor.status(service).await.is_err() {
            return Some(format!(
                "no `{service}` service: the clock is not synced (no NTP server configured)"
            ));
        }
    }
    if !Path::new(CHRONYC).exists() {
        return Some(format!(
            "{CHRONYC} is not installed: no wait for a DHCP-fed time sync"
        ));
    }
    Some(wait_dhcp(&ctx.reaper, &plan).await)
}

async fn wait_dhcp(reaper: &Reaper, plan: &TimePlan) -> String {
    let start = Instant::now();
    let deadline = start + plan.boot_timeout;
    let limit = secs(plan.boot_timeout);
    let servers = loop {
        match chrony::dhcp_time(&lease_files(Path::new(DHCP_SOURCES_DIR))) {
            DhcpTime::NoLease if Instant::now() < deadline => tokio::time::sleep(POLL).await,
            DhcpTime::NoLease => {
                return format!(
                    "no DHCP lease within {limit}s: going on with the clock unsynced; chronyd takes the NTP servers of a later lease"
                );
            }
            DhcpTime::NoServers => {
                return format!(
                    "the DHCP lease names no NTP server (after {:.1}s): the clock is not synced; set ntp.servers or plinth.time.servers",
                    start.elapsed().as_secs_f64()
                );
            }
            DhcpTime::Servers(n) => break n,
        }
    };
    let left = deadline.saturating_duration_since(Instant::now());
    let argv = [vec![CHRONYC.to_string()], chrony::waitsync_args(left)].concat();
    let ran = run_bounded(reaper, &argv, left + GRACE).await;
    let took = start.elapsed().as_secs_f64();
    match ran {
        Ok(Ran {
            outcome: Some(end), ..
        }) if end.success() => {
            format!("clock synced from {servers} DHCP-provided NTP servers in {took:.1}s")
        }
        Ok(Ran { output, .. }) => format!(
            "no sync from {servers} DHCP-provided NTP servers within {limit}s ({}); going on, chronyd keeps trying",
            last_line(&output)
        ),
        Err(e) => format!("{e}; going on unsynced"),
    }
}

/// The contents of the hook's `*.sources` files in `dir` (none when it does not exist).
fn lease_files(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sources"))
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect()
}

/// How a bounded command ended.
struct Ran {
    /// Its exit, or `None` when it was killed at the limit.
    outcome: Option<ExitOutcome>,
    /// Its stdout then its stderr.
    output: String,
}

/// Runs `argv` through the reaper, killing its process group after `limit`.
async fn run_bounded(reaper: &Reaper, argv: &[String], limit: Duration) -> Result<Ran, String> {
    let env = crate::pid1::env::base_env(std::env::vars());
    let started = spawn::launch(
        reaper,
        &Launch {
            argv,
            base_env: &env,
            env: &Default::default(),
            capture: true,
            cgroup_procs: None,
        },
    )
    .map_err(|e| e.to_string())?;
    let stdout = tokio::spawn(read_all(started.stdout));
    let stderr = tokio::spawn(read_all(started.stderr));
    let outcome = match tokio::time::timeout(limit, started.exit).await {
        Ok(Ok(end)) => Some(end),
        Ok(Err(_)) => {
            let program = argv.first().map_or("the command", String::as_str);
            return Err(format!("lost track of {program}"));
        }
        Err(_) => {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(started.pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            None
        }
    };
    let mut output = String::new();
    for pipe in [stdout, stderr] {
        // A pipe a leftover grandchild holds open must not hold the boot.
        if let Ok(Ok(bytes)) = tokio::time::timeout(Duration::from_secs(1), pipe).await {
            output.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    Ok(Ran { outcome, output })
}

async fn read_all(pipe: Option<impl AsyncRead + Unpin>) -> Vec<u8> {
    let mut bytes = Vec::new();
    if let Some(mut pipe) = pipe {
        let _ = pipe.read_to_end(&mut bytes).await;
    }
    bytes
}

/// Whole seconds of `d`, rounded up, for messages.
fn secs(d: Duration) -> u64 {
    d.as_secs_f64().ceil() as u64
}

/// chronyd -q says `System clock wrong by X seconds (step|slew)` once it has a measurement.
fn synced(output: &str) -> bool {
    output.contains("System clock wrong by")
}

fn last_line(output: &str) -> String {
    output
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
        assert!(synced(
            "2026-11-26T06:00:00Z chronyd version 4.6.1 starting\n2026-11-26T06:00:02Z System clock wrong by -0.000105 seconds (step)\n"
        ));
        assert!(!synced(
            "2026-11-26T06:00:30Z No suitable source for synchronisation\n"
        ));
        assert_eq!(
            last_line("a\nNo suitable source for synchronisation\n\n"),
            "No suitable source for synchronisation"
        );
        assert_eq!(last_line(""), "no output");
    }

    #[test]
    fn only_the_hooks_sources_files_count_as_leases() {
        let dir = std::env::temp_dir().join(format!("plinth-time-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            lease_files(&dir).is_empty(),
            "a missing directory is no lease"
        );
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("eno1.dhcp.sources.tmp"),
            "server 10.0.0.9 iburst\n",
        )
        .unwrap();
        assert_eq!(chrony::dhcp_time(&lease_files(&dir)), DhcpTime::NoLease);
        std::fs::write(dir.join("eno1.dhcp.sources"), "# no server\n").unwrap();
        assert_eq!(chrony::dhcp_time(&lease_files(&dir)), DhcpTime::NoServers);
        std::fs::write(dir.join("eno2.dhcp.sources"), "server 10.0.0.1 iburst\n").unwrap();
        assert_eq!(chrony::dhcp_time(&lease_files(&dir)), DhcpTime::Servers(1));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn seconds_are_rounded_up_for_messages() {
        assert_eq!(secs(Duration::from_millis(2500)), 3);
        assert_eq!(secs(Duration::from_secs(30)), 30);
    }
}
