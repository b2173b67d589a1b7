//! Stage 1 never ends PID 1, not even by a panic (an exiting PID 1 panics the kernel, and the
//! console then shows the kernel's trace instead of ours): the run is wrapped in `catch_unwind`,
//! and a panic is said on the console, then the machine reboots after the delay the kernel's own
//! `panic=SECONDS` gives (default [`DEFAULT_REBOOT_DELAY`]), time to read why.
#![deny(clippy::arithmetic_side_effects)]

use std::convert::Infallible;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use super::console::step;

/// The delay before the reboot when the command line has no positive `panic=`.
pub const DEFAULT_REBOOT_DELAY: Duration = Duration::from_secs(30);

/// Runs `body`; should it panic, hands the panic's message to `after_panic` instead of unwinding
/// further.
pub fn guarded<T>(body: impl FnOnce() -> T, after_panic: impl FnOnce(String) -> T) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(done) => done,
        Err(payload) => after_panic(crate::pid1::panic::message(payload.as_ref())),
    }
}

/// The reboot delay the kernel command line `cmdline` asks for with `panic=SECONDS`.
pub fn reboot_delay(cmdline: &str) -> Duration {
    cmdline
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("panic=")?.parse::<u64>().ok())
        .rfind(|secs| *secs > 0)
        .map_or(DEFAULT_REBOOT_DELAY, Duration::from_secs)
}

/// Says that stage 1 panicked with `message`, waits, syncs and reboots; stays up should the
/// reboot fail.
pub fn reboot_after_panic(message: String) -> Infallible {
    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
    let delay = reboot_delay(&cmdline);
    step(&format!("PANIC in stage 1: {message}"));
    step(&format!(
        "rebooting in {}s (panic=SECONDS on the kernel command line sets it)",
        delay.as_secs()
    ));
    std::thread::sleep(delay);
    nix::unistd::sync();
    let Err(e) = nix::sys::reboot::reboot(nix::sys::reboot::RebootMode::RB_AUTOBOOT);
    step(&format!("reboot failed: {e}; staying here"));
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_a_message_for_the_fallback() {
        let caught = guarded(
            || -> String {
                #[allow(clippy::panic, reason = "the test needs a panicking body")]
                {
                    panic!("no root today")
                }
            },
            |message| format!("fallback: {message}"),
        );
        assert_eq!(caught, "fallback: no root today");
        assert_eq!(guarded(|| "ran".to_string(), |m| m), "ran");
    }

    #[test]
    fn the_delay_is_the_kernels_panic_setting() {
        assert_eq!(
            reboot_delay("console=ttyS0 panic=5 quiet"),
            Duration::from_secs(5)
        );
        assert_eq!(reboot_delay("console=ttyS0"), DEFAULT_REBOOT_DELAY);
        assert_eq!(reboot_delay("panic=0"), DEFAULT_REBOOT_DELAY);
        assert_eq!(reboot_delay("panic=-1 panic=soon"), DEFAULT_REBOOT_DELAY);
    }
}
