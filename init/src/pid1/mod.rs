//! PID-1 duties: the mount table, the environment, the zombie reaper, signals and the power button,
//! the panic hook, and the one shutdown path that ends in sync, unmount and reboot(2).

pub mod env;
pub mod fault;
pub mod loopback;
pub mod mounts;
pub mod panic;
pub mod power_button;
pub mod reaper;
pub mod shutdown;
pub mod signals;

/// How PID 1 runs; decided once, at start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mode {
    /// `--container`: no host-wide effects, exit 0 on shutdown.
    pub container: bool,
    /// Whether this process is PID 1 (of its PID namespace).
    pub pid1: bool,
}

impl Mode {
    /// The mode for this process.
    pub fn detect(container: bool) -> Mode {
        Mode {
            container,
            pid1: std::process::id() == 1,
        }
    }

    /// Whether host-wide effects (mounts, reboot(2), hostname, …) are allowed.
    pub fn owns_machine(self) -> bool {
        self.pid1 && !self.container
    }
}
