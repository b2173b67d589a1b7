//! The console: every line PID 1 prints, with the time since PID 1 started, so a serial log reads
//! as a timeline. Writes never fail loudly: a closed console must not take PID 1 down.
//!
//! Lines look like `plinth: [   1.234] service web: ready`; the one line tests wait for is exactly
//! `plinth: ready in X.XXs` (see [`ready`]).

use std::io::Write;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

static START: OnceLock<Instant> = OnceLock::new();

/// Records PID 1's start; call first thing in `main`. Later calls keep the first instant.
pub fn init() -> Instant {
    *START.get_or_init(Instant::now)
}

/// The instant PID 1 started (or the first use of the console).
pub fn start() -> Instant {
    init()
}

/// Time since PID 1 started.
pub fn uptime() -> Duration {
    start().elapsed()
}

/// Prints one timestamped line.
pub fn say(message: &str) {
    write_line(&format!(
        "plinth: [{:>8.3}] {message}",
        uptime().as_secs_f64()
    ));
}

/// Prints a line of a service's output, prefixed with its name.
pub fn service_output(name: &str, line: &str) {
    write_line(&format!("[{name}] {line}"));
}

/// Prints the line that says the boot is ready: exactly `plinth: ready in X.XXs`.
pub fn ready(after: Duration) {
    write_line(&format!("plinth: ready in {:.2}s", after.as_secs_f64()));
}

fn write_line(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(line.as_bytes());
    let _ = out.write_all(b"\n");
    let _ = out.flush();
}
