//! `plinthctl config apply`: the boot task runs the phases, and once they have finished (ready, or
//! maintenance mode) waits for an applied config. An accepted one is kept on the state partition
//! (`--persisted-config`), the services of the previous plan are stopped and forgotten, and the
//! phases run again from `config` on with it — the same code path as a boot, so a config that
//! brings a node out of maintenance mode is checked by every phase exactly as at boot.
//!
//! The control API validates the text first (every diagnostic goes back to the client); this side
//! only refuses while the phases are running ([`Applier::idle`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use plinth_config::MachineConfig;
use plinth_config::sources::merge;
use tokio::sync::{mpsc, oneshot};

use super::BootContext;
use super::config_source::{self, LoadedConfig};
use super::maintenance;
use super::sequence::{self, SEQUENCE};
use super::superseded;
use super::timeline::Timeline;
use crate::console;

/// A validated config to apply, and where to say how it went.
#[derive(Debug)]
pub struct ApplyRequest {
    /// How the client named it (its file name).
    pub source: String,
    /// The config as parsed.
    pub config: MachineConfig,
    /// Its warnings, one line each.
    pub warnings: Vec<String>,
    /// Accepted (with a summary) or refused (with why).
    pub reply: oneshot::Sender<Result<String, String>>,
}

/// The control API's side: sends requests to the boot task.
#[derive(Clone, Debug)]
pub struct Applier {
    tx: mpsc::UnboundedSender<ApplyRequest>,
    idle: Arc<AtomicBool>,
}

/// The boot task's side.
#[derive(Debug)]
pub struct Requests {
    rx: mpsc::UnboundedReceiver<ApplyRequest>,
    idle: Arc<AtomicBool>,
}

/// A connected pair.
pub fn channel() -> (Applier, Requests) {
    let (tx, rx) = mpsc::unbounded_channel();
    let idle = Arc::new(AtomicBool::new(false));
    (
        Applier {
            tx,
            idle: idle.clone(),
        },
        Requests { rx, idle },
    )
}

impl Applier {
    /// Whether the boot phases have finished, so a config can be applied now.
    pub fn idle(&self) -> bool {
        self.idle.load(Ordering::SeqCst)
    }

    /// Hands `request` to the boot task; `false` when it is gone.
    pub fn send(&self, request: ApplyRequest) -> bool {
        self.tx.send(request).is_ok()
    }
}

/// The index in [`SEQUENCE`] where an applied config starts.
pub fn config_phase() -> usize {
    SEQUENCE
        .iter()
        .position(|p| p.name == "config")
        .unwrap_or(0)
}

/// Runs the boot, then applies configs as they come, for as long as PID 1 runs.
pub async fn boot_and_apply(
    mut ctx: BootContext,
    timeline: Timeline,
    mut requests: Requests,
) -> BootContext {
    let mut from = 0;
    loop {
        if let Some(failed) = sequence::run(&SEQUENCE[from..], &mut ctx, &timeline).await {
            let why = timeline
                .phases()
                .into_iter()
                .find(|p| p.name == failed)
                .map(|p| p.status.message().to_string())
                .unwrap_or_default();
            maintenance::enter(&mut ctx).await;
            for line in maintenance::explain(failed, &why) {
                console::say(&line);
            }
        }
        requests.idle.store(true, Ordering::SeqCst);
        let Some(request) = requests.rx.recv().await else {
            return ctx;
        };
        requests.idle.store(false, Ordering::SeqCst);
        accept(&mut ctx, request).await;
        from = config_phase();
    }
}

/// Keeps the config, stops the previous plan and leaves the config for the `config` phase.
async fn accept(ctx: &mut BootContext, request: ApplyRequest) {
    let ApplyRequest {
        source,
        config,
        warnings,
        reply,
    } = request;
    let kept = match &ctx.persisted {
        Some(path) => match config_source::persist(&config, path) {
            Ok(()) => {
                let seed = ctx.boot_seed.as_ref();
                let marker = superseded::marker_path(path);
                let label = seed.map_or("", |s| s.label.as_str());
                match superseded::mark(&marker, seed.map(|s| s.fingerprint.as_str()), label) {
                    Ok(()) => match seed {
                        Some(seed) => format!(
                            "kept in {}; it replaces {} on the next boots while that is unchanged",
                            path.display(),
                            seed.label
                        ),
                        None => format!("kept in {}", path.display()),
                    },
                    Err(e) => format!(
                        "kept in {} (but {}: {e}; the seed will be read again on the next boot)",
                        path.display(),
                        marker.display()
                    ),
                }
            }
            Err(e) => {
                // Applied anyway: the node should not stay broken because the state partition is.
                console::say(&format!(
                    "config apply: cannot keep it in {}: {e}",
                    path.display()
                ));
                format!("NOT kept ({}: {e})", path.display())
            }
        },
        None => "not kept (no --persisted-config)".to_string(),
    };
    let summary = format!(
        "accepted {source} ({} warnings), {kept}; re-running the boot from phase `config` (follow with `plinthctl timeline`)",
        warnings.len()
    );
    console::say(&format!("config apply: {summary}"));
    let _ = reply.send(Ok(summary));
    if ctx.services_loaded {
        if let Err(e) = ctx.supervisor.unload().await {
            console::say(&format!(
                "config apply: stopping the previous services: {e}"
            ));
        }
        ctx.services_loaded = false;
    }
    let config = if ctx.mode.owns_machine() {
        match config_source::image_default(&ctx.default_config) {
            Ok((_, defaults)) => merge::with_defaults(config, &defaults.config),
            Err(_) => config,
        }
    } else {
        config
    };
    ctx.config = None;
    ctx.applied = Some(LoadedConfig::new(
        format!("applied {source}"),
        config,
        warnings,
    ));
}
