//! Phase `storage`: the state partition, Longhorn disks and LVM volume groups.
//! The host-wide setup of this phase belongs to a later issue; until then the phase reports that it
//! applied nothing, so the timeline stays truthful.

use crate::boot::BootContext;
use crate::boot::sequence::PhaseResult;

/// Reports what this phase applied.
pub async fn run(ctx: &mut BootContext) -> PhaseResult {
    if !ctx.mode.owns_machine() {
        return Ok("container mode: nothing to apply".into());
    }
    Ok("nothing applied by this phase yet".into())
}
