//! Phase `early`: runtime directories. Hostname, machine-id, kernel modules, sysctls and udev join
//! here as their issues land (udev runs as a built-in service).

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
            .map_err(|e| PhaseError(format!("cannot create {dir}: {e}")))?;
    }
    Ok(format!("created {}", RUNTIME_DIRS.join(", ")))
}
