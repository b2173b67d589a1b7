//! Phase `services`: plan the built-in and user services from the config and hand them to the
//! supervisor, which starts them as their dependencies become ready. A cluster node's agents get
//! their part of the config here, written before any of them can start.

use std::path::Path;

use crate::atomic_file;
use crate::boot::BootContext;
use crate::boot::sequence::{PhaseError, PhaseResult};
use crate::services::{self, cluster};
use crate::supervisor::planner;

/// Plans and loads the services.
pub async fn run(ctx: &mut BootContext) -> PhaseResult {
    let loaded = ctx.loaded()?;
    if ctx.mode.owns_machine() && loaded.config.plinth.cluster.is_set() {
        // 0600: the token, the certificate key and an operator CA's key are in it.
        let text = cluster::config_part(&loaded.config);
        atomic_file::write(Path::new(cluster::CONFIG), text.as_bytes(), 0o600)
            .map_err(|e| PhaseError::setup(format!("writing {}", cluster::CONFIG), e))?;
    }
    let builtins = services::plan_builtins(&loaded.config, &ctx.builtins);
    let builtin_count = builtins.len();
    let plan = planner::plan(builtins, &loaded.config.plinth.services, ctx.plan_defaults)?;
    let total = plan.specs.len();
    ctx.supervisor.load(plan).await?;
    ctx.services_loaded = true;
    Ok(format!(
        "{total} services planned ({builtin_count} built-in)"
    ))
}
