//! The supervisor's controller: a cloneable handle whose async methods send requests to the running
//! supervisor and await its answers. The control API and the boot sequence use only this.

use tokio::sync::{mpsc, oneshot};

use super::logs::LogLine;
use super::planner::Plan;
use super::runner::{Request, ServiceStatus};

/// Why a control request failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ControlError {
    /// No service has this name.
    #[error("no service named `{0}`")]
    UnknownService(String),
    /// The node is shutting down; nothing starts any more.
    #[error("the node is shutting down")]
    ShuttingDown,
    /// The supervisor is gone (it never should be).
    #[error("the supervisor is not running")]
    Gone,
}

/// A handle to the supervisor.
#[derive(Clone, Debug)]
pub struct Handle {
    tx: mpsc::UnboundedSender<Request>,
}

impl Handle {
    pub(super) fn new(tx: mpsc::UnboundedSender<Request>) -> Handle {
        Handle { tx }
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Request,
    ) -> Result<T, ControlError> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(make(tx)).map_err(|_| ControlError::Gone)?;
        rx.await.map_err(|_| ControlError::Gone)
    }

    /// Hands the planned services to the supervisor, which starts them as their dependencies allow.
    pub async fn load(&self, plan: Plan) -> Result<(), ControlError> {
        self.ask(|reply| Request::Load { plan, reply }).await
    }

    /// Every service, in start order.
    pub async fn list(&self) -> Result<Vec<ServiceStatus>, ControlError> {
        self.ask(|reply| Request::List { reply }).await
    }

    /// One service.
    pub async fn status(&self, name: &str) -> Result<ServiceStatus, ControlError> {
        let name = name.to_string();
        self.ask(|reply| Request::Status { name, reply }).await?
    }

    /// Lines of a service's ring with `seq > after`, the last `tail` of them (0: all).
    pub async fn logs(
        &self,
        name: &str,
        after: u64,
        tail: usize,
    ) -> Result<Vec<LogLine>, ControlError> {
        let name = name.to_string();
        self.ask(|reply| Request::Logs {
            name,
            after,
            tail,
            reply,
        })
        .await?
    }

    /// Starts a stopped, failed or finished service (and lets it restart again).
    pub async fn start(&self, name: &str) -> Result<(), ControlError> {
        let name = name.to_string();
        self.ask(|reply| Request::Start { name, reply }).await?
    }

    /// Stops a service (stop signal, then SIGKILL after its timeout); it stays stopped.
    pub async fn stop(&self, name: &str) -> Result<(), ControlError> {
        let name = name.to_string();
        self.ask(|reply| Request::Stop { name, reply }).await?
    }

    /// Stops a service and starts it again.
    pub async fn restart(&self, name: &str) -> Result<(), ControlError> {
        let name = name.to_string();
        self.ask(|reply| Request::Restart { name, reply }).await?
    }

    /// Waits until every service has come to rest; returns the names of those that failed or can
    /// never start because something they come after failed.
    pub async fn settled(&self) -> Result<Vec<String>, ControlError> {
        self.ask(|reply| Request::WaitSettled { reply }).await
    }

    /// Stops every service in reverse dependency order and forgets them all, so that a new plan can
    /// be loaded (`plinthctl config apply`); returns when all are down. Terminal sessions
    /// (`ServiceSpec::tty`) are the exception: they keep running, and a new plan naming them again
    /// takes them over.
    pub async fn unload(&self) -> Result<(), ControlError> {
        self.ask(|reply| Request::Unload { reply }).await
    }

    /// Stops every service in reverse dependency order and returns when all are down.
    pub async fn shutdown(&self) -> Result<(), ControlError> {
        self.ask(|reply| Request::Shutdown { reply }).await
    }
}
