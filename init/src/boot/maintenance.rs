//! Maintenance mode: after a failed phase the node stays up with the console, the control API and
//! network — the built-in services (udev, DHCP on every link unless the config says otherwise, the
//! node exporter) are started if the failure came before the service graph was loaded.

use plinth_config::MachineConfig;

use super::BootContext;
use crate::console;
use crate::services;
use crate::supervisor::planner;

/// Starts the built-ins when no services were loaded.
pub async fn enter(ctx: &mut BootContext) {
    if ctx.services_loaded {
        return;
    }
    let fallback = MachineConfig::default();
    let config = ctx.config.as_ref().map_or(&fallback, |c| &c.config);
    let builtins = services::plan_builtins(config, &ctx.builtins);
    let count = builtins.len();
    match planner::plan(builtins, &[], ctx.plan_defaults) {
        Ok(plan) => match ctx.supervisor.load(plan).await {
            Ok(()) => {
                ctx.services_loaded = true;
                console::say(&format!(
                    "maintenance mode: started {count} built-in services"
                ));
            }
            Err(e) => console::say(&format!("maintenance mode: cannot start services: {e}")),
        },
        Err(e) => console::say(&format!("maintenance mode: cannot plan the built-ins: {e}")),
    }
}
