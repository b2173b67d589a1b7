//! Phase `early`: runtime directories and the loopback interface. Hostname, machine-id, kernel
//! modules and sysctls join here as their issues land (udev runs as a built-in service).

use crate::boot::BootContext;
use crate::boot::sequence::{PhaseError, PhaseResult};

/// Directories every later phase and service may rely on.
const RUNTIME_DIRS: &[&str] = &["/run/plinth"];

/// Creates the runtime directories (machine mode only: in a container they belong to the host).
pub async fn run(ctx: &mut BootContext) -> PhaseResult {
    if !ctx.mode.owns_machine() {
        return Ok("container mode: no host-wide setup".into());
    }
    for dir in RUNTIME_DIRS {
        std::fs::create_dir_all(dir)
            .map_err(|e| PhaseError::setup(format!("cannot create {dir}"), e))?;
    }
    crate::pid1::loopback::up().map_err(|e| PhaseError::setup("cannot bring lo up", e))?;
    Ok(format!("created {}; lo up", RUNTIME_DIRS.join(", ")))
}
