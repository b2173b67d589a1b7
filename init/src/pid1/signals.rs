//! Signals to PID 1, with the sysvinit and busybox conventions: SIGINT (ctrl-alt-del once
//! `reboot(RB_DISABLE_CAD)` is set) and SIGTERM mean reboot, SIGUSR1 halt, SIGUSR2 poweroff. Each
//! becomes a [`PowerAction`] sent to the main loop; nothing here reboots anything.

use std::io;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use super::shutdown::PowerAction;

/// The action a signal asks for (`None` for signals PID 1 does not act on).
pub fn action_for(signal: i32) -> Option<PowerAction> {
    match signal {
        libc::SIGINT | libc::SIGTERM => Some(PowerAction::Reboot),
        libc::SIGUSR1 => Some(PowerAction::Halt),
        libc::SIGUSR2 => Some(PowerAction::Poweroff),
        _ => None,
    }
}

/// Makes ctrl-alt-del send SIGINT to PID 1 instead of rebooting at once (machine mode only).
pub fn disable_ctrl_alt_del() -> nix::Result<()> {
    nix::sys::reboot::set_cad_enabled(false)
}

/// Listens for the four signals and forwards their actions to `tx`.
pub fn spawn(tx: mpsc::UnboundedSender<PowerAction>) -> io::Result<()> {
    for number in [libc::SIGINT, libc::SIGTERM, libc::SIGUSR1, libc::SIGUSR2] {
        let mut stream = signal(SignalKind::from_raw(number))?;
        let tx = tx.clone();
        tokio::spawn(async move {
            while stream.recv().await.is_some() {
                if let Some(action) = action_for(number) {
                    crate::console::say(&format!("received signal {number}: {action}"));
                    let _ = tx.send(action);
                }
            }
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busybox_conventions() {
        assert_eq!(action_for(libc::SIGTERM), Some(PowerAction::Reboot));
        assert_eq!(action_for(libc::SIGINT), Some(PowerAction::Reboot));
        assert_eq!(action_for(libc::SIGUSR1), Some(PowerAction::Halt));
        assert_eq!(action_for(libc::SIGUSR2), Some(PowerAction::Poweroff));
        assert_eq!(action_for(libc::SIGHUP), None);
    }
}
