//! Phase `config`: find, read and validate the machine config, and publish its redacted form.

use crate::boot::BootContext;
use crate::boot::config_source::{self, Source};
use crate::boot::sequence::{PhaseError, PhaseResult};
use crate::console;

/// Loads the config from `--config`, else from the first source found on the machine.
pub async fn run(ctx: &mut BootContext) -> PhaseResult {
    let source = match &ctx.config_path {
        Some(path) => Source::File(path.clone()),
        None => config_source::find(ctx.mode, &ctx.default_config),
    };
    let loaded = config_source::load(&source).map_err(|e| PhaseError(e.to_string()))?;
    for warning in &loaded.warnings {
        console::say(&format!("config warning: {warning}"));
    }
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
