//! Phase `runcmd`: the config's `runcmd` and then the user-data's scripts (cloud-init's
//! `scripts-user`), once per instance, and per-boot scripts every boot (see `crate::cloud_init`). It comes after
//! `network` and `services`, as cloud-init's final stage does, so commands can reach the network
//! and talk to the control API; it does not wait for the services to be ready (a command that
//! needs one waits for it itself). Failing commands are error lines, not a failed phase.

use crate::boot::BootContext;
use crate::boot::sequence::PhaseResult;
use crate::cloud_init::{self, Target, instance};

/// Runs runcmd when this instance has not run it yet.
pub async fn run(ctx: &mut BootContext) -> PhaseResult {
    if !ctx.mode.owns_machine() {
        return Ok("container mode: no runcmd".into());
    }
    let loaded = ctx.loaded()?;
    let id = instance::id_of(loaded.instance_id.as_deref(), &loaded.config);
    let target = Target::machine(&ctx.reaper, ctx.log_dir.clone());
    Ok(cloud_init::late(&target, &loaded.config, &id)
        .await
        .summary())
}
