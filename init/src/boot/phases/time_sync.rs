//! Phase `time-sync`, after `services`: wait for chronyd's first sync, never longer than
//! `plinth.time.boot_timeout` (30 s by default), and say how it went. The boot never waits on the
//! network's clock forever, and `runcmd` runs with the clock set when a server answered in time.
//! The `chronyd` service keeps the clock in sync afterwards.
//!
//! - Servers or pools in the config: `chronyc waitsync`, retried while chronyd is still starting.
//! - None: the servers come from the DHCP leases. The phase waits for a first lease (the image's
//!   dhcpcd hook writes a file for each lease, with or without servers); when the leases name no
//!   NTP server it stops at once, otherwise `chronyc waitsync` waits for the sync. So a DHCP-only
//!   node waits for its first lease (seconds), or, with no lease at all, boot_timeout.
//!
//! All of it within one boot_timeout, and only when the `chronyd` service runs (and, for DHCP, the
//! `dhcp` service). The commands run through `boot::bounded` (PID 1's reaper, their process group
//! killed at the limit). The phase never fails.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::boot::BootContext;
use crate::boot::bounded::{self, Ran};
use crate::boot::sequence::PhaseResult;
use crate::host_contract::chrony::{self, CHRONYC, DHCP_SOURCES_DIR, DhcpTime, TimePlan};
use crate::pid1::reaper::Reaper;
use crate::services::{chronyd, dhcp};

/// Slack over chronyc's own limit before the phase kills it.
const GRACE: Duration = Duration::from_secs(5);
/// How often the phase looks for the hook's files, or for a chronyd that is still starting.
const POLL: Duration = Duration::from_millis(200);

/// Waits a bounded time for the first sync.
pub async fn run(ctx: &mut BootContext) -> PhaseResult {
    if !ctx.mode.owns_machine() {
        return Ok("container mode: nothing to wait for".into());
    }
    let Some(plan) = ctx.config.as_ref().and_then(|c| chrony::plan(&c.config)) else {
        return Ok("time sync is off (ntp.enabled: false)".into());
    };
    if plan.boot_timeout.is_zero() {
        return Ok("no wait for a first sync (boot_timeout 0s)".into());
    }
    let mut needed = vec![chronyd::NAME];
    if !plan.has_sources() {
        needed.push(dhcp::NAME);
    }
    for service in needed {
        if ctx.supervisor.status(service).await.is_err() {
            return Ok(format!("no `{service}` service: the clock is not synced"));
        }
    }
    if !Path::new(CHRONYC).exists() {
        return Ok(format!(
            "{CHRONYC} is not installed: no wait for a first sync"
        ));
    }
    Ok(wait(&ctx.reaper, &plan).await)
}

/// The wait itself: for DHCP's servers first when the config names none, then for the sync.
async fn wait(reaper: &Reaper, plan: &TimePlan) -> String {
    let start = Instant::now();
    let deadline = start + plan.boot_timeout;
    let limit = secs(plan.boot_timeout);
    let sources = if plan.has_sources() {
        format!(
            "{} configured sources",
            plan.servers.len() + plan.pools.len()
        )
    } else {
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
        format!("{servers} DHCP-provided NTP servers")
    };
    let mut last = String::from("no answer");
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let argv = [vec![CHRONYC.to_string()], chrony::waitsync_args(left)].concat();
        match bounded::run(reaper, &argv, left + GRACE).await {
            Ok(Ran {
                outcome: Some(end), ..
            }) if end.success() => {
                return format!(
                    "clock synced from {sources} in {:.1}s",
                    start.elapsed().as_secs_f64()
                );
            }
            Ok(ran) => {
                let output = ran.output();
                last = last_line(&output);
                // chronyd not listening yet (its service is starting): ask again.
                if output.contains("Cannot talk to daemon") {
                    tokio::time::sleep(POLL).await;
                    continue;
                }
                break;
            }
            Err(e) => return format!("{e}; going on unsynced"),
        }
    }
    format!("no sync from {sources} within {limit}s ({last}); going on, chronyd keeps trying")
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

/// Whole seconds of `d`, rounded up, for messages.
fn secs(d: Duration) -> u64 {
    d.as_secs_f64().ceil() as u64
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
    fn the_last_line_said_is_kept_for_the_message() {
        assert_eq!(
            last_line("a\n506 Cannot talk to daemon\n\n"),
            "506 Cannot talk to daemon"
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
