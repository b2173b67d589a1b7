//! The functions behind the control API's methods, over the supervisor's handle, the timeline, the
//! effective config and the power channel. The D-Bus adapter calls these and so can tests.

use tokio::sync::mpsc;

use super::types::{LogEntry, PhaseInfo, ServiceInfo, TimelineInfo};
use crate::boot::apply::{Applier, ApplyRequest};
use crate::boot::context::EffectiveConfig;
use crate::boot::timeline::Timeline;
use crate::pid1::shutdown::PowerAction;
use crate::supervisor::{ControlError, Handle};

/// Why `config apply` did not take a config.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ApplyError {
    /// The config has errors: every diagnostic, one per line (`SOURCE:LINE:COL: ...`).
    #[error("{0}")]
    Invalid(String),
    /// The boot phases are running; the config was not taken.
    #[error(
        "the boot phases are still running: apply again once the node is ready or in maintenance mode"
    )]
    Busy,
    /// The boot task refused it or is gone.
    #[error("{0}")]
    Failed(String),
}

/// Everything the API can act on.
#[derive(Clone, Debug)]
pub struct Controller {
    /// Hands applied configs to the boot task.
    pub applier: Applier,
    /// The supervisor.
    pub supervisor: Handle,
    /// The boot timeline.
    pub timeline: Timeline,
    /// The redacted config, once loaded.
    pub config: EffectiveConfig,
    /// Asks the main loop to shut down.
    pub power: mpsc::UnboundedSender<PowerAction>,
}

impl Controller {
    /// Every service.
    pub async fn services(&self) -> Result<Vec<ServiceInfo>, ControlError> {
        Ok(self
            .supervisor
            .list()
            .await?
            .into_iter()
            .map(ServiceInfo::from)
            .collect())
    }

    /// One service.
    pub async fn status(&self, name: &str) -> Result<ServiceInfo, ControlError> {
        self.supervisor.status(name).await.map(ServiceInfo::from)
    }

    /// Log lines after `after`, the last `tail` (0: all).
    pub async fn logs(
        &self,
        name: &str,
        after: u64,
        tail: u32,
    ) -> Result<Vec<LogEntry>, ControlError> {
        let lines = self.supervisor.logs(name, after, tail as usize).await?;
        Ok(lines.into_iter().map(LogEntry::from).collect())
    }

    /// Starts a service.
    pub async fn start(&self, name: &str) -> Result<(), ControlError> {
        self.supervisor.start(name).await
    }

    /// Stops a service.
    pub async fn stop(&self, name: &str) -> Result<(), ControlError> {
        self.supervisor.stop(name).await
    }

    /// Restarts a service.
    pub async fn restart(&self, name: &str) -> Result<(), ControlError> {
        self.supervisor.restart(name).await
    }

    /// The boot timeline.
    pub fn timeline(&self) -> TimelineInfo {
        TimelineInfo {
            phases: self
                .timeline
                .phases()
                .into_iter()
                .map(PhaseInfo::from)
                .collect(),
            ready_ms: self
                .timeline
                .ready()
                .map_or(-1, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        }
    }

    /// The effective config as pretty JSON with secrets redacted (`null` before it is loaded).
    pub fn config_json(&self) -> String {
        let config = self
            .config
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        serde_json::to_string_pretty(&config.unwrap_or(serde_json::Value::Null)).unwrap_or_default()
    }

    /// Validates `text` (named `source` in diagnostics) and, when it has no errors and the boot
    /// phases have finished, hands it to the boot task, which keeps it and re-runs the boot from
    /// phase `config`. Returns the boot task's summary.
    pub async fn apply_config(&self, source: &str, text: &str) -> Result<String, ApplyError> {
        let parsed =
            plinth_config::parse(source, text).map_err(|d| ApplyError::Invalid(d.to_string()))?;
        if !self.applier.idle() {
            return Err(ApplyError::Busy);
        }
        let (reply, answer) = tokio::sync::oneshot::channel();
        let request = ApplyRequest {
            source: source.to_string(),
            warnings: parsed.warnings.iter().map(ToString::to_string).collect(),
            config: parsed.config,
            reply,
        };
        if !self.applier.send(request) {
            return Err(ApplyError::Failed("the boot task is gone".into()));
        }
        answer
            .await
            .map_err(|_| ApplyError::Failed("the boot task dropped the request".into()))?
            .map_err(ApplyError::Failed)
    }

    /// Asks for a reboot or poweroff; the main loop stops the services and does it.
    pub fn power(&self, action: PowerAction) -> Result<(), ControlError> {
        self.power.send(action).map_err(|_| ControlError::Gone)
    }
}
