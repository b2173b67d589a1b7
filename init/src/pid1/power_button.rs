//! The ACPI power button (QEMU's `system_powerdown`): the input device named "Power Button" is read
//! for a KEY_POWER press, which asks for a graceful poweroff.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::sync::mpsc;

use super::shutdown::PowerAction;
use crate::console;

const EV_KEY: u16 = 1;
const KEY_POWER: u16 = 116;
/// `struct input_event` on 64-bit Linux: timeval (16 bytes), type, code (u16 each), value (i32).
pub const EVENT_SIZE: usize = 24;

/// Whether one `input_event` is a press of KEY_POWER.
pub fn is_power_press(event: &[u8; EVENT_SIZE]) -> bool {
    let kind = u16::from_ne_bytes([event[16], event[17]]);
    let code = u16::from_ne_bytes([event[18], event[19]]);
    let value = i32::from_ne_bytes([event[20], event[21], event[22], event[23]]);
    kind == EV_KEY && code == KEY_POWER && value == 1
}

/// The `/dev/input/eventN` devices whose name is "Power Button".
pub fn find_devices() -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir("/sys/class/input") else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("event"))
        .filter(|e| {
            std::fs::read_to_string(e.path().join("device/name"))
                .is_ok_and(|n| n.trim() == "Power Button")
        })
        .map(|e| PathBuf::from("/dev/input").join(e.file_name()))
        .collect();
    found.sort();
    found
}

/// Watches every power button; a press sends [`PowerAction::Poweroff`]. The button's input device
/// appears once udev has loaded `button` and `evdev`, so until one is found the scan repeats every
/// two seconds (a directory listing; nothing else).
pub fn spawn(tx: mpsc::UnboundedSender<PowerAction>) {
    tokio::spawn(async move {
        let devices = loop {
            let devices = find_devices();
            if !devices.is_empty() {
                break devices;
            }
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        };
        for path in devices {
            let file = match OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&path)
            {
                Ok(f) => f,
                Err(e) => {
                    console::say(&format!("cannot open power button {}: {e}", path.display()));
                    continue;
                }
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                // SAFETY: the `File` owns its descriptor, which stays open and unchanged until the
                // `AsyncFd` (which owns the `File`) is dropped.
                let Ok(fd) = (unsafe { AsyncFd::register_with_interest(file, Interest::READABLE) })
                else {
                    return;
                };
                console::say(&format!("watching power button {}", path.display()));
                if watch(&fd).await {
                    console::say("power button pressed");
                    let _ = tx.send(PowerAction::Poweroff);
                }
            });
        }
    });
}

async fn watch(fd: &AsyncFd<File>) -> bool {
    let mut event = [0u8; EVENT_SIZE];
    loop {
        let Ok(mut guard) = fd.readable().await else {
            return false;
        };
        match guard.try_io(|f| f.get_ref().read(&mut event)) {
            Ok(Ok(n)) if n == EVENT_SIZE && is_power_press(&event) => return true,
            Ok(Ok(0)) | Ok(Err(_)) => return false,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: u16, code: u16, value: i32) -> [u8; EVENT_SIZE] {
        let mut e = [0u8; EVENT_SIZE];
        e[16..18].copy_from_slice(&kind.to_ne_bytes());
        e[18..20].copy_from_slice(&code.to_ne_bytes());
        e[20..24].copy_from_slice(&value.to_ne_bytes());
        e
    }

    #[test]
    fn recognises_a_power_key_press_only() {
        assert!(is_power_press(&event(EV_KEY, KEY_POWER, 1)));
        assert!(!is_power_press(&event(EV_KEY, KEY_POWER, 0)));
        assert!(!is_power_press(&event(EV_KEY, 30, 1)));
        assert!(!is_power_press(&event(0, 0, 0)));
    }
}
