//! Phase `storage`: hand `plinth.storage` to the storage agent. The phase writes the parts of the
//! config the agent reads (storage, the Genestack roles, the exporters; no secrets) to
//! `services::storage::CONFIG`; the agent itself runs as the built-in `storage` oneshot once udev
//! has named the disks, so the disk work (probing, mkfs, LVM) never runs in PID 1. The state
//! partition is stage 1's.

use std::path::Path;

use plinth_config::{MachineConfig, Plinth};

use crate::boot::BootContext;
use crate::boot::sequence::{PhaseError, PhaseResult};
use crate::services::storage::{CONFIG, planned};

/// The config part the agent reads.
pub fn agent_config(config: &MachineConfig) -> MachineConfig {
    MachineConfig {
        plinth: Plinth {
            storage: config.plinth.storage.clone(),
            genestack: config.plinth.genestack.clone(),
            exporters: config.plinth.exporters.clone(),
            ..Plinth::default()
        },
        ..MachineConfig::default()
    }
}

/// Writes the agent's config when the node has storage to prepare.
pub async fn run(ctx: &mut BootContext) -> PhaseResult {
    if !ctx.mode.owns_machine() {
        return Ok("container mode: nothing to apply".into());
    }
    let loaded = ctx.loaded()?;
    if !planned(&loaded.config) {
        return Ok("no plinth.storage: no disk is touched".into());
    }
    let part = agent_config(&loaded.config);
    crate::atomic_file::write(Path::new(CONFIG), part.to_yaml().as_bytes(), 0o600)
        .map_err(|e| PhaseError::setup(format!("cannot write {CONFIG}"), e))?;
    Ok(format!("{CONFIG} written for the storage service"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_config::config;

    #[test]
    fn the_agent_config_keeps_storage_and_roles_and_parses_back() {
        let c = config(
            "hostname: n1\nplinth:\n  genestack:\n    roles: [storage]\n  storage:\n    lvm:\n      - name: cinder-volumes-1\n        devices: [serial:a, {device: serial:b, wipe: true}]\n",
        );
        let part = agent_config(&c);
        let back = plinth_config::parse("t", &part.to_yaml()).unwrap().config;
        assert_eq!(back.plinth.storage, c.plinth.storage);
        assert_eq!(back.plinth.genestack, c.plinth.genestack);
        assert_eq!(back.hostname, None);
    }
}
