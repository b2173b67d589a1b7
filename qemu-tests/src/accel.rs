//! Choosing the accelerator: KVM only when a short probe proves it runs a Linux kernel here, else
//! TCG. Nested KVM on some hosts starts (SeaBIOS even runs) and then stops the guest with "KVM
//! internal error … emulation failure" while QEMU keeps running, so the probe boots the image's own
//! kernel without a root (it panics and, with `panic=-1 -no-reboot`, QEMU exits) and kills QEMU
//! when it does not finish in time.
//!
//! The answer is cached per host boot in `target/qemu-tests/accel` (one probe, not one per test);
//! `PLINTH_QEMU_ACCEL=kvm|tcg` overrides it.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::cmdline::{Accel, QEMU};

/// How long the probe may take; a working KVM panics the kernel in about a second.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(20);

/// The accelerator to use, probing KVM with `kernel` when the cache has no answer for this boot.
pub fn choose(kernel: Option<&Path>) -> Accel {
    if let Some(forced) = std::env::var("PLINTH_QEMU_ACCEL")
        .ok()
        .and_then(|v| parse(&v))
    {
        return forced;
    }
    if !kvm_device_usable() {
        return Accel::Tcg;
    }
    let Some(kernel) = kernel else {
        return Accel::Tcg;
    };
    let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    let cache = cache_path();
    if let Some(cached) = std::fs::read_to_string(&cache)
        .ok()
        .and_then(|c| cached(&c, boot_id.trim()))
    {
        return cached;
    }
    let accel = if probe_kvm(kernel, PROBE_TIMEOUT) {
        Accel::Kvm
    } else {
        Accel::Tcg
    };
    if let Some(dir) = cache.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = std::fs::write(&cache, format!("{} {}\n", name(accel), boot_id.trim()));
    accel
}

fn cache_path() -> PathBuf {
    crate::paths::target_dir().join("qemu-tests").join("accel")
}

/// `kvm` or `tcg`.
pub fn name(accel: Accel) -> &'static str {
    match accel {
        Accel::Kvm => "kvm",
        Accel::Tcg => "tcg",
    }
}

fn parse(s: &str) -> Option<Accel> {
    match s.trim() {
        "kvm" => Some(Accel::Kvm),
        "tcg" => Some(Accel::Tcg),
        _ => None,
    }
}

/// The cached answer when it was written during this host boot.
fn cached(content: &str, boot_id: &str) -> Option<Accel> {
    let (accel, id) = content.trim().split_once(' ')?;
    (id == boot_id && !boot_id.is_empty())
        .then(|| parse(accel))
        .flatten()
}

fn kvm_device_usable() -> bool {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok()
}

/// Whether the probe output shows a kernel that ran to its panic under KVM.
pub fn probe_succeeded(exited_cleanly: bool, output: &str) -> bool {
    exited_cleanly && output.contains("Kernel panic") && !output.contains("KVM internal error")
}

/// Boots `kernel` under KVM with no root; true when it reaches its panic and QEMU exits in time.
pub fn probe_kvm(kernel: &Path, timeout: Duration) -> bool {
    let child = Command::new(QEMU)
        .args([
            "-accel", "kvm", "-cpu", "host", "-machine", "q35", "-m", "256",
        ])
        .args(["-nodefaults", "-display", "none", "-no-reboot"])
        .args(["-serial", "stdio"])
        .arg("-kernel")
        .arg(kernel)
        .args(["-append", "console=ttyS0 panic=-1 loglevel=1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        return false;
    };
    let (tx, rx) = mpsc::channel::<String>();
    for stream in [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut stream = stream;
            let mut buf = [0u8; 4096];
            while let Ok(n) = stream.read(&mut buf) {
                if n == 0
                    || tx
                        .send(String::from_utf8_lossy(&buf[..n]).into_owned())
                        .is_err()
                {
                    break;
                }
            }
        });
    }
    drop(tx);
    let deadline = Instant::now() + timeout;
    let mut output = String::new();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                while let Ok(chunk) = rx.recv_timeout(Duration::from_millis(200)) {
                    output += &chunk;
                }
                return probe_succeeded(status.success(), &output);
            }
            Ok(None) => {}
            Err(_) => break,
        }
        if let Ok(chunk) = rx.recv_timeout(Duration::from_millis(100)) {
            output += &chunk;
        }
        if output.contains("KVM internal error") || Instant::now() >= deadline {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_answers_only_for_the_same_boot() {
        assert_eq!(cached("kvm abc-123\n", "abc-123"), Some(Accel::Kvm));
        assert_eq!(cached("tcg abc-123", "abc-123"), Some(Accel::Tcg));
        assert_eq!(cached("kvm abc-123", "def-456"), None);
        assert_eq!(cached("kvm ", ""), None);
        assert_eq!(cached("garbage", "abc"), None);
    }

    #[test]
    fn probe_needs_a_clean_exit_after_the_panic() {
        let panic = "[    0.9] Kernel panic - not syncing: VFS: Unable to mount root fs";
        assert!(probe_succeeded(true, panic));
        assert!(!probe_succeeded(false, panic));
        assert!(!probe_succeeded(
            true,
            "KVM internal error. Suberror: 1\nemulation failure"
        ));
        assert!(!probe_succeeded(true, "SeaBIOS (version 1.16.3)"));
    }

    #[test]
    fn override_names_parse() {
        assert_eq!(parse("kvm"), Some(Accel::Kvm));
        assert_eq!(parse(" tcg\n"), Some(Accel::Tcg));
        assert_eq!(parse("hvf"), None);
    }
}
