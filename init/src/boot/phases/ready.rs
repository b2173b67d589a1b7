//! Phase `ready`: wait until every service has come to rest; the boot is ready when none failed.

use crate::boot::BootContext;
use crate::boot::sequence::{PhaseError, PhaseResult};

/// Waits for the services to settle.
pub async fn run(ctx: &mut BootContext) -> PhaseResult {
    let failed = ctx
        .supervisor
        .settled()
        .await
        .map_err(|e| PhaseError(e.to_string()))?;
    if failed.is_empty() {
        Ok("every service is ready".into())
    } else {
        Err(PhaseError(format!(
            "services not ready: {}",
            failed.join(", ")
        )))
    }
}
