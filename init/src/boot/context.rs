//! What the boot phases share: the mode, the config (once the `config` phase has read it), the
//! supervisor's handle, and the effective config the control API shows.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::config_source::{LoadedConfig, SeedId};
use super::sequence::PhaseError;
use crate::pid1::Mode;
use crate::pid1::reaper::Reaper;
use crate::services::BuiltinOptions;
use crate::supervisor::Handle;
use crate::supervisor::planner::PlanDefaults;

/// The effective config as JSON with secrets redacted, once loaded (shared with the control API).
pub type EffectiveConfig = Arc<Mutex<Option<serde_json::Value>>>;

/// State threaded through the phases.
#[derive(Debug)]
pub struct BootContext {
    /// Container or machine, PID 1 or not.
    pub mode: Mode,
    /// `--config`: the machine config to use instead of looking for one.
    pub config_path: Option<PathBuf>,
    /// The embedded default config of the image.
    pub default_config: PathBuf,
    /// Set by the `config` phase.
    pub config: Option<LoadedConfig>,
    /// Set by the `config` phase; read by the control API.
    pub effective_config: EffectiveConfig,
    /// The supervisor.
    pub supervisor: Handle,
    /// Planner defaults (probe timeout).
    pub plan_defaults: PlanDefaults,
    /// How long phase `ready` waits for the services to come to rest (`--settle-timeout`).
    pub settle_limit: std::time::Duration,
    /// Which built-in services may run.
    pub builtins: BuiltinOptions,
    /// Set once the service graph is handed to the supervisor.
    pub services_loaded: bool,
    /// PID 1's reaper, for the commands the boot runs itself (bootcmd, runcmd).
    pub reaper: Arc<Reaper>,
    /// Where an applied config is kept for the next boots (none in a container unless given).
    pub persisted: Option<PathBuf>,
    /// A config given by `plinthctl config apply`, taken by the next `config` phase.
    pub applied: Option<LoadedConfig>,
    /// The seed or config drive that decided this boot's config, valid or not: an applied config
    /// supersedes it (`super::superseded`).
    pub boot_seed: Option<SeedId>,
    /// Where service and command logs are written (none in a container).
    pub log_dir: Option<PathBuf>,
    /// `plinth.supervisor.failure_reboot_after` of the config loaded, for the main loop (set by
    /// the `config` phase).
    pub failure_reboot_after: tokio::sync::watch::Sender<std::time::Duration>,
}

impl BootContext {
    /// The config the `config` phase loaded, for the phases after it; their error when there is
    /// none.
    pub fn loaded(&self) -> Result<&LoadedConfig, PhaseError> {
        self.config.as_ref().ok_or(PhaseError::NoConfig)
    }
}
