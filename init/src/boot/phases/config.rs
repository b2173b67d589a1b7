//! Phase `config`: find, read and validate the machine config (or take the one `plinthctl config
//! apply` gave), and publish its redacted form.

use crate::boot::BootContext;
use crate::boot::config_source;
use crate::boot::sequence::PhaseResult;
use crate::console;

/// Takes the config `plinthctl config apply` gave, else loads it from `--config`, else from the
/// first source found on the machine.
pub async fn run(ctx: &mut BootContext) -> PhaseResult {
    crate::pid1::fault::inject(crate::pid1::fault::Fault::BootPanic);
    let loaded = match (ctx.applied.take(), &ctx.config_path) {
        (Some(applied), _) => Ok(applied),
        (None, Some(path)) => config_source::load_given(path),
        (None, None) => {
            let discovery =
                config_source::discover_and_load(ctx.mode, &ctx.default_config, &ctx.reaper).await;
            ctx.boot_seed = discovery.seed;
            discovery.loaded
        }
    }?;
    for warning in &loaded.warnings {
        console::say(&format!("config warning: {warning}"));
    }
    for line in crate::boot::unapplied::unapplied(&loaded.config) {
        console::say(&format!("config: not applied yet: {line}"));
    }
    ctx.failure_reboot_after
        .send_replace(loaded.config.plinth.supervisor.failure_reboot_after());
    *ctx.effective_config
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = Some(loaded.redacted.clone());
    let summary = format!(
        "{} ({} user services)",
        loaded.source,
        loaded.config.plinth.services.len()
    );
    ctx.config = Some(loaded);
    Ok(summary)
}
