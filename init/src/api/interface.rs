//! The D-Bus interface `org.plinth.Init1`: a thin adapter from method calls to the [`Controller`],
//! and the matching client proxy that plinthctl uses.

use zbus::fdo;

use super::controller::{ApplyError, Controller};
use super::types::{LogEntry, ServiceInfo, TimelineInfo};
use crate::pid1::shutdown::PowerAction;
use crate::supervisor::ControlError;

/// The served object.
#[derive(Debug)]
pub struct ControlApi {
    controller: Controller,
}

impl ControlApi {
    /// Serves `controller`.
    pub fn new(controller: Controller) -> ControlApi {
        ControlApi { controller }
    }
}

fn to_fdo(e: ControlError) -> fdo::Error {
    match e {
        ControlError::UnknownService(_) => fdo::Error::InvalidArgs(e.to_string()),
        ControlError::ShuttingDown | ControlError::Gone => fdo::Error::Failed(e.to_string()),
    }
}

#[zbus::interface(name = "org.plinth.Init1")]
impl ControlApi {
    /// Every service.
    async fn list_services(&self) -> fdo::Result<Vec<ServiceInfo>> {
        self.controller.services().await.map_err(to_fdo)
    }

    /// One service.
    async fn status(&self, name: String) -> fdo::Result<ServiceInfo> {
        self.controller.status(&name).await.map_err(to_fdo)
    }

    /// Log lines with a sequence number above `after`, the last `tail` of them (0: all).
    async fn logs(&self, name: String, after: u64, tail: u32) -> fdo::Result<Vec<LogEntry>> {
        self.controller
            .logs(&name, after, tail)
            .await
            .map_err(to_fdo)
    }

    /// Starts a service.
    async fn start(&self, name: String) -> fdo::Result<()> {
        self.controller.start(&name).await.map_err(to_fdo)
    }

    /// Stops a service.
    async fn stop(&self, name: String) -> fdo::Result<()> {
        self.controller.stop(&name).await.map_err(to_fdo)
    }

    /// Restarts a service.
    async fn restart(&self, name: String) -> fdo::Result<()> {
        self.controller.restart(&name).await.map_err(to_fdo)
    }

    /// The boot timeline.
    async fn timeline(&self) -> TimelineInfo {
        self.controller.timeline()
    }

    /// The effective config, JSON, secrets redacted.
    async fn config(&self) -> String {
        self.controller.config_json()
    }

    /// Validates a config (`source` names it in diagnostics), keeps it and re-runs the boot from
    /// phase `config`; an invalid one is refused with every `SOURCE:LINE:COL` diagnostic.
    async fn apply_config(&self, source: String, text: String) -> fdo::Result<String> {
        self.controller
            .apply_config(&source, &text)
            .await
            .map_err(|e| match e {
                ApplyError::Invalid(d) => fdo::Error::InvalidArgs(d),
                e => fdo::Error::Failed(e.to_string()),
            })
    }

    /// Stops every service and reboots.
    async fn reboot(&self) -> fdo::Result<()> {
        self.controller.power(PowerAction::Reboot).map_err(to_fdo)
    }

    /// Stops every service and powers off.
    async fn poweroff(&self) -> fdo::Result<()> {
        self.controller.power(PowerAction::Poweroff).map_err(to_fdo)
    }

    /// PID 1's version.
    async fn version(&self) -> String {
        env!("CARGO_PKG_VERSION").to_string()
    }
}

/// The client side of `org.plinth.Init1`.
#[zbus::proxy(
    interface = "org.plinth.Init1",
    default_service = "org.plinth.Init1",
    default_path = "/org/plinth/Init1"
)]
pub trait Control {
    /// Every service.
    fn list_services(&self) -> fdo::Result<Vec<ServiceInfo>>;
    /// One service.
    fn status(&self, name: &str) -> fdo::Result<ServiceInfo>;
    /// Log lines.
    fn logs(&self, name: &str, after: u64, tail: u32) -> fdo::Result<Vec<LogEntry>>;
    /// Starts a service.
    fn start(&self, name: &str) -> fdo::Result<()>;
    /// Stops a service.
    fn stop(&self, name: &str) -> fdo::Result<()>;
    /// Restarts a service.
    fn restart(&self, name: &str) -> fdo::Result<()>;
    /// The boot timeline.
    fn timeline(&self) -> fdo::Result<TimelineInfo>;
    /// The effective config.
    fn config(&self) -> fdo::Result<String>;
    /// Apply a config.
    fn apply_config(&self, source: &str, text: &str) -> fdo::Result<String>;
    /// Reboot.
    fn reboot(&self) -> fdo::Result<()>;
    /// Power off.
    fn poweroff(&self) -> fdo::Result<()>;
    /// PID 1's version.
    fn version(&self) -> fdo::Result<String>;
}
