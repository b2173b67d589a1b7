//! `plinthctl config apply`: the boot task runs the phases, and once they have finished (ready, or
//! maintenance mode) waits for an applied config. An accepted one is kept on the state partition
//! (`--persisted-config`), the services of the previous plan are stopped and forgotten, and the
//! phases run again from `config` on with it — the same code path as a boot, so a config that
//! brings a node out of maintenance mode is checked by every phase exactly as at boot.
//!
//! The control API validates the text first (every diagnostic goes back to the client); this side
//! only refuses while the phases are running ([`Applier::idle`]).
//!
//! The boot task's side of the channel is shared ([`Requests`] behind a mutex the task holds while
//! it runs), so when the task dies (a panic) the main loop starts a new one on the same channel,
//! in maintenance mode ([`Start::Recovered`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use plinth_config::MachineConfig;
use plinth_config::sources::merge;
use tokio::sync::{mpsc, oneshot};

use super::BootContext;
use super::config_source::{self, LoadedConfig};
use super::maintenance;
use super::sequence::{self, Phase, SEQUENCE};
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

/// The boot task's side, as the main loop keeps it for the next boot task.
pub type SharedRequests = Arc<tokio::sync::Mutex<Requests>>;

/// A connected pair.
pub fn channel() -> (Applier, SharedRequests) {
    let (tx, rx) = mpsc::unbounded_channel();
    let idle = Arc::new(AtomicBool::new(false));
    (
        Applier {
            tx,
            idle: idle.clone(),
        },
        Arc::new(tokio::sync::Mutex::new(Requests { rx, idle })),
    )
}

/// Where a boot task starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Start {
    /// A boot: every phase, from the first.
    Boot,
    /// The previous boot task ended (`why`): maintenance mode at once, then configs as they come.
    Recovered(String),
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

/// Runs the boot (or, [`Start::Recovered`], enters maintenance mode), then applies configs as they
/// come, for as long as PID 1 runs.
pub async fn boot_and_apply(
    mut ctx: BootContext,
    timeline: Timeline,
    requests: SharedRequests,
    start: Start,
) -> BootContext {
    let mut requests = requests.lock_owned().await;
    requests.idle.store(false, Ordering::SeqCst);
    let mut phases: &[Phase] = SEQUENCE;
    if let Start::Recovered(why) = start {
        let phase = timeline
            .fail_running(&why, console::uptime())
            .unwrap_or_else(|| "none".into());
        maintenance::enter(&mut ctx).await;
        for line in maintenance::explain(&phase, &why) {
            console::say(&line);
        }
        phases = &[];
    }
    loop {
        if !phases.is_empty()
            && let Some(failed) = sequence::run(phases, &mut ctx, &timeline).await
        {
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
        phases = SEQUENCE.get(config_phase()..).unwrap_or(SEQUENCE);
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
