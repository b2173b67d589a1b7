//! Phase `time`: write chrony's config from the machine config (`host_contract::chrony`) for the
//! `chronyd` built-in service, and say where its servers come from: the config's `ntp` and
//! `plinth.time` servers and pools, or, with none, the DHCP leases (chrony's `sourcedir`, fed by
//! the image's dhcpcd hook). It does not wait: the network is applied by the `network` and `dhcp`
//! services, which start later, so no server could be reached yet. The bounded wait for a first
//! sync is the `time-sync` phase (`time_sync`), once the services run.

use std::path::Path;

use crate::boot::BootContext;
use crate::boot::sequence::{PhaseError, PhaseResult};
use crate::host_contract::chrony::{self, CONF, DHCP_SOURCES_DIR, STATE_DIR};

/// Writes chrony.conf and says where the servers come from.
pub async fn run(ctx: &mut BootContext) -> PhaseResult {
    if !ctx.mode.owns_machine() {
        return Ok("container mode: nothing to apply".into());
    }
    let loaded = ctx.loaded()?;
    let Some(plan) = chrony::plan(&loaded.config) else {
        return Ok("time sync is off (ntp.enabled: false)".into());
    };
    crate::atomic_file::write(Path::new(CONF), chrony::conf(&plan).as_bytes(), 0o644)
        .map_err(|e| PhaseError::setup(format!("cannot write {CONF}"), e))?;
    // The drift file lives here; chronyd only warns without it, so neither does the phase.
    let _ = std::fs::create_dir_all(STATE_DIR);
    let sources = if plan.has_sources() {
        format!(
            "{} configured NTP sources",
            plan.servers.len() + plan.pools.len()
        )
    } else {
        // The hook creates it too; chronyd only warns about a missing sourcedir.
        let _ = std::fs::create_dir_all(DHCP_SOURCES_DIR);
        format!(
            "no NTP server configured: chronyd takes those of the DHCP leases ({DHCP_SOURCES_DIR})"
        )
    };
    let wait = if plan.boot_timeout.is_zero() {
        "no wait for a first sync (boot_timeout 0s)".to_string()
    } else {
        format!(
            "phase time-sync waits up to {}s for a first sync once the network runs",
            plan.boot_timeout.as_secs_f64().ceil() as u64
        )
    };
    Ok(format!("{CONF}: {sources}; {wait}"))
}
