//! Stage 2: PID 1 in the real root (or, with `--container`, in a container or PID namespace). It
//! mounts what is missing, starts the reaper, signal handling, the supervisor and the control API,
//! runs the boot sequence, and waits for a reboot/poweroff request; then it stops the services in
//! reverse order and ends through `pid1::shutdown`. It never exits on an error: errors are logged
//! and PID 1 stays up.

pub mod args;
mod run;
pub mod task_end;

use std::process::ExitCode;

use crate::console;
use crate::pid1::{self, Mode};

/// The entry point of stage 2.
pub fn main() -> ExitCode {
    console::init();
    pid1::panic::install_hook();
    let args = args::parse();
    let mode = Mode::detect(args.container);
    let outcome = std::panic::catch_unwind(|| run::with_runtime(&args, mode));
    match outcome {
        Ok(Ok(action)) => {
            pid1::shutdown::finish(action, mode);
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => {
            console::say(&format!("cannot run the supervisor: {e}"));
            if mode.owns_machine() {
                pid1::panic::reap_forever()
            } else {
                ExitCode::FAILURE
            }
        }
        Err(_) => {
            if mode.owns_machine() {
                pid1::panic::reap_forever()
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
