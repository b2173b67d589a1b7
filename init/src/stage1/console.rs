//! Stage 1's console output: one line per step, prefixed with the time since the kernel started
//! (CLOCK_BOOTTIME), and the final "stay alive" path when something is missing.

use std::io::Write;
use std::time::Duration;

/// Seconds since boot.
pub fn uptime() -> Duration {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_BOOTTIME)
        .map_or(Duration::ZERO, Duration::from)
}

/// Prints one step line: `[   1.234] plinth stage 1: <message>`.
pub fn step(message: &str) {
    let line = format!(
        "[{:>8.3}] plinth stage 1: {message}\n",
        uptime().as_secs_f64()
    );
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(line.as_bytes());
    let _ = out.flush();
}

/// Prints why boot stopped and keeps PID 1 alive forever: the kernel must not panic-loop, and
/// the console keeps showing the message.
pub fn halt(what: &str, looked_for: &str, found: &str) -> ! {
    step(&format!("FAILED: {what}"));
    step(&format!("  looked for: {looked_for}"));
    step(&format!("  found: {found}"));
    step("boot stopped here; fix the cause and reset the machine");
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}
