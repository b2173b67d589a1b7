//! Phase `identity`: the node's name and the cloud-init steps that set it up (see `crate::cloud_init`):
//! hostname and /etc/hosts, the user-data's boothooks and `bootcmd` (every boot), and for a new instance `write_files` and users; `ca_certs`
//! and `timezone`.
//!
//! A phase of its own right after `config`, not part of `config`: reading a config has no effects
//! and is re-run by `plinthctl config apply`, while these write /etc and run commands; and it comes
//! before `network` so DHCP already sends the node's hostname. A failing step is an error line on
//! the console, not a failed phase: a bad `write_files` entry must not keep the node from booting.

use crate::boot::BootContext;
use crate::boot::sequence::PhaseResult;
use crate::cloud_init::{self, Target, instance};

/// Names the node and runs the early cloud-init steps.
pub async fn run(ctx: &mut BootContext) -> PhaseResult {
    if !ctx.mode.owns_machine() {
        return Ok("container mode: the host's identity is left alone".into());
    }
    let loaded = ctx.loaded()?;
    let id = instance::id_of(loaded.instance_id.as_deref(), &loaded.config);
    let target = Target::machine(&ctx.reaper, ctx.log_dir.clone());
    Ok(cloud_init::early(&target, &loaded.config, &id)
        .await
        .summary())
}
