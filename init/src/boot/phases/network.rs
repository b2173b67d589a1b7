//! Phase `network`: hand the config's netplan to the network agent. The phase writes the network
//! part of the config (no secrets) to `services::net::CONFIG` and has `plinth-agent net --dry-run`
//! check it against this machine's links, so a config the agent cannot apply stops the boot here
//! (maintenance mode, with the agent's own words on the console). The agent then runs as the
//! built-in `network` service after udev has loaded the NIC drivers and named the interfaces —
//! before that the names the config uses (`ens3`, …) do not exist yet — and `dhcp` comes after it.

use std::path::Path;
use std::time::Duration;

use plinth_config::MachineConfig;

use crate::boot::BootContext;
use crate::boot::bounded;
use crate::boot::sequence::{PhaseError, PhaseResult};
use crate::console;
use crate::services::net::{AGENT, CONFIG, ovs_nics};

/// What the agent says of an entry whose `match` finds no link.
const NO_LINK_MATCHES: &str = "no link matches";

/// How long the agent's check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(30);

/// Writes the agent's config and checks it with a dry run.
pub async fn run(ctx: &mut BootContext) -> PhaseResult {
    if !ctx.mode.owns_machine() {
        return Ok("container mode: nothing to apply".into());
    }
    let loaded = ctx.loaded()?;
    let owned = ovs_nics(&loaded.config);
    let host_ovs = loaded.config.plinth.ovs.mode == plinth_config::plinth::OvsMode::Host;
    let Some(network) = &loaded.config.network else {
        if owned.is_empty() && !host_ovs {
            return Ok("no network config: DHCP on every interface".into());
        }
        // `ovs-apply` reads the same file in host mode.
        write_agent_config(&loaded.config)?;
        if owned.is_empty() {
            return Ok(
                "no network config: DHCP on every interface (host-mode OVS has no bridges to build)"
                    .into(),
            );
        }
        return Ok(format!(
            "no network config: DHCP on every interface but {}, which OVS owns (the `network` service brings them up with no address)",
            owned.join(", ")
        ));
    };
    write_agent_config(&loaded.config)?;
    if !Path::new(AGENT).exists() {
        return Ok(format!(
            "{AGENT} is not installed: the network config is not applied"
        ));
    }
    let argv = [AGENT, "net", "--config", CONFIG, "--dry-run"].map(String::from);
    let ran = bounded::run(&ctx.reaper, &argv, CHECK_TIMEOUT)
        .await
        .map_err(|e| PhaseError::CannotRun {
            program: AGENT.into(),
            error: e.to_string(),
        })?;
    let stderr = &ran.stderr;
    match ran.outcome {
        None => {
            return Err(PhaseError::NetworkCheckTimedOut {
                seconds: CHECK_TIMEOUT.as_secs(),
            });
        }
        Some(end) if !end.success() => {
            return Err(PhaseError::NetworkRefused {
                end: end.to_string(),
                stderr: stderr.trim_end().to_string(),
            });
        }
        Some(_) => {}
    }
    // Before udev has loaded the NIC drivers most links do not exist yet, so "no link matches"
    // is expected here and said once as a count; the `network` service, after udev, warns about
    // what is still unmatched. Other warnings (about the config itself) are said as they are.
    let (unmatched, other): (Vec<&str>, Vec<&str>) = stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .partition(|l| l.contains(NO_LINK_MATCHES));
    for line in other {
        console::say(&format!("network check: {line}"));
    }
    if !unmatched.is_empty() {
        console::say(&format!(
            "network check: {} config entries match no link yet (udev has not named the NICs); the `network` service matches them after udev",
            unmatched.len()
        ));
    }
    let ethernets = network.ethernets.len();
    Ok(format!(
        "network config checked by the agent ({ethernets} ethernets, {} bonds, {} VLANs, {} bridges); the `network` service applies it after udev",
        network.bonds.len(),
        network.vlans.len(),
        network.bridges.len()
    ))
}

/// Writes the agent's config: the netplan, the NICs OVS owns (`plinth.genestack.ovn`) and
/// `plinth.ovs` (read by `plinth-agent ovs apply` too), no secrets.
fn write_agent_config(config: &MachineConfig) -> Result<(), PhaseError> {
    let mut for_agent = MachineConfig {
        network: config.network.clone(),
        ..MachineConfig::default()
    };
    for_agent
        .plinth
        .genestack
        .ovn
        .clone_from(&config.plinth.genestack.ovn);
    // The mode decides whether the netplan's `openvswitch` keys are valid, and whether the OVS
    // devices are left to `plinth-agent ovs apply` (host mode).
    for_agent.plinth.ovs.clone_from(&config.plinth.ovs);
    crate::atomic_file::write(Path::new(CONFIG), for_agent.to_yaml().as_bytes(), 0o600)
        .map_err(|e| PhaseError::setup(format!("cannot write {CONFIG}"), e))
}
