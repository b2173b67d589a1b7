//! The one way PID 1 ends: after the services are stopped, kill what is left, sync, unmount, and
//! call reboot(2) — or, in `--container` mode, exit 0. Nothing else in Plinth reboots the machine.

use std::fmt;
use std::time::{Duration, Instant};

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sys::reboot::{RebootMode, reboot};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;

use super::Mode;
use crate::console;

/// What to do once everything is stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PowerAction {
    /// Restart the machine.
    Reboot,
    /// Stop the CPU, leave the power on.
    Halt,
    /// Power off.
    Poweroff,
}

impl fmt::Display for PowerAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PowerAction::Reboot => "reboot",
            PowerAction::Halt => "halt",
            PowerAction::Poweroff => "poweroff",
        })
    }
}

/// Ends PID 1. In container mode (or when not PID 1) it returns, and `main` exits 0; on a machine
/// it never returns.
pub fn finish(action: PowerAction, mode: Mode) {
    if mode.pid1 {
        kill_everything_left(Duration::from_secs(3));
    }
    nix::unistd::sync();
    if !mode.owns_machine() {
        console::say(&format!("{action}: container mode, exiting"));
        return;
    }
    unmount_all();
    nix::unistd::sync();
    console::say(&format!("{action} now"));
    let mode_of = match action {
        PowerAction::Reboot => RebootMode::RB_AUTOBOOT,
        PowerAction::Halt => RebootMode::RB_HALT_SYSTEM,
        PowerAction::Poweroff => RebootMode::RB_POWER_OFF,
    };
    let Err(e) = reboot(mode_of);
    console::say(&format!("{action} failed: {e}; staying up"));
    super::panic::reap_forever();
}

/// SIGTERM to every process but PID 1, a grace period while reaping, then SIGKILL.
fn kill_everything_left(grace: Duration) {
    let everyone = Pid::from_raw(-1);
    if kill(everyone, Signal::SIGTERM).is_err() {
        return;
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        match waitpid(everyone, Some(WaitPidFlag::WNOHANG)) {
            Err(nix::errno::Errno::ECHILD) => return,
            Ok(nix::sys::wait::WaitStatus::StillAlive) => {
                std::thread::sleep(Duration::from_millis(20))
            }
            _ => {}
        }
    }
    let _ = kill(everyone, Signal::SIGKILL);
    while waitpid(everyone, None).is_ok() {}
}

/// Unmounts everything but the root, deepest first; what stays busy is remounted read-only.
fn unmount_all() {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut points = super::mounts::mount_points(&mountinfo);
    points.retain(|p| p != "/");
    for point in points.iter().rev() {
        if umount2(point.as_str(), MntFlags::empty()).is_err() {
            let flags = MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
            let _ = mount(
                None::<&str>,
                point.as_str(),
                None::<&str>,
                flags,
                None::<&str>,
            );
        }
    }
    let _ = mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
        None::<&str>,
    );
}
