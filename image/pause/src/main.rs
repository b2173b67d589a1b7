//! `pause`: the process of every pod's sandbox container, packed by `cargo xtask image` into the
//! local OCI image that containerd's `sandbox_image` names, so no pod ever needs a registry.
//!
//! It does what upstream's `build/pause` program does: it holds the pod's namespaces by staying
//! alive, reaps the children that are re-parented to it (it is PID 1 of the pod's PID namespace
//! when the pod shares one), and exits 0 on SIGINT or SIGTERM. The three signals are blocked and
//! taken with `sigwait`: a PID 1 of a namespace gets no signal whose action is the default unless
//! it is blocked or handled, and waiting for them needs no handler and no `unsafe`.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use nix::errno::Errno;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("-v") {
        println!("pause (plinth) {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let mut signals = SigSet::empty();
    for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGCHLD] {
        signals.add(signal);
    }
    if let Err(e) = signals.thread_block() {
        eprintln!("pause: cannot block signals: {e}");
        return ExitCode::FAILURE;
    }
    loop {
        match signals.wait() {
            Ok(Signal::SIGINT | Signal::SIGTERM) => {
                eprintln!("pause: shutting down");
                return ExitCode::SUCCESS;
            }
            Ok(_) => reap(),
            Err(e) => {
                eprintln!("pause: sigwait: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
}

/// Reaps every child that has exited, without blocking.
fn reap() {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return,
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => {
                eprintln!("pause: waitpid: {e}");
                return;
            }
        }
    }
}
