//! Phase `ready`: wait until every service has come to rest; the boot is ready when none failed.
//! The wait is bounded (`--settle-timeout`): a service in a restart loop never comes to rest, and
//! the boot must still end, in maintenance mode naming it, where `plinthctl config apply` works.
//! On a machine, the config that got this far is then kept on the state partition for the next
//! boots (see `config_source`).

use crate::boot::sequence::{PhaseError, PhaseResult};
use crate::boot::{BootContext, config_source, superseded};
use crate::console;

/// Waits for the services to settle.
pub async fn run(ctx: &mut BootContext) -> PhaseResult {
    let limit = ctx.settle_limit;
    let failed = match tokio::time::timeout(limit, ctx.supervisor.settled()).await {
        Ok(settled) => settled?,
        Err(_) => {
            let restless: Vec<String> = ctx
                .supervisor
                .list()
                .await?
                .into_iter()
                .filter(|s| s.state.settled().is_none())
                .map(|s| format!("{} ({})", s.name, s.state))
                .collect();
            return Err(PhaseError::Restless {
                limit: plinth_config::Duration(limit),
                restless,
            });
        }
    };
    if failed.is_empty() {
        if let (true, Some(loaded)) = (
            ctx.mode.owns_machine(),
            ctx.config.as_ref().filter(|c| c.persist),
        ) {
            let path = std::path::Path::new(config_source::PERSISTED);
            if let Err(e) = config_source::persist(&loaded.config, path) {
                console::say(&format!(
                    "cannot keep the config in {}: {e}",
                    path.display()
                ));
            }
            // A seed is in charge again: an older applied config no longer replaces anything.
            if loaded.seed.is_some()
                && let Err(e) = superseded::clear(&superseded::marker_path(path))
            {
                console::say(&format!("cannot remove the superseded-seed marker: {e}"));
            }
        }
        Ok("every service is ready".into())
    } else {
        Err(PhaseError::NotReady(failed))
    }
}
