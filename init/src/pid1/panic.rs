//! Panics in PID 1: a hook that puts the panic on the console, and the fallback loop PID 1 falls
//! into if its runtime ever dies, which keeps reaping zombies instead of exiting (an exiting PID 1
//! panics the kernel).

use std::time::Duration;

use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use crate::console;

/// Installs the panic hook (console line with location and message).
pub fn install_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let message = message(info.payload());
        console::say(&format!("PANIC at {location}: {message}"));
    }));
}

/// The message a panic carried (its payload, when that is a string).
pub fn message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Reaps children forever; the last resort of a PID 1 that lost its runtime.
pub fn reap_forever() -> ! {
    console::say("falling back to a minimal loop: reaping zombies only");
    loop {
        if waitpid(Pid::from_raw(-1), None).is_err() {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
}
