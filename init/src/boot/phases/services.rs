//! Phase `services`: plan the built-in and user services from the config and hand them to the
//! supervisor, which starts them as their dependencies become ready.

use crate::boot::BootContext;
use crate::boot::sequence::{PhaseError, PhaseResult};
use crate::services;
use crate::supervisor::planner;

/// Plans and loads the services.
pub async fn run(ctx: &mut BootContext) -> PhaseResult {
    let loaded = ctx.loaded()?;
    let builtins = services::plan_builtins(&loaded.config, &ctx.builtins);
    let builtin_count = builtins.len();
    let plan = planner::plan(builtins, &loaded.config.plinth.services, ctx.plan_defaults)
        .map_err(|e| PhaseError(e.to_string()))?;
    let total = plan.specs.len();
    ctx.supervisor
        .load(plan)
        .await
        .map_err(|e| PhaseError(e.to_string()))?;
    ctx.services_loaded = true;
    Ok(format!(
        "{total} services planned ({builtin_count} built-in)"
    ))
}
