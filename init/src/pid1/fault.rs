//! Fault injection, for the tests that prove PID 1 survives its own bugs: a named fault is armed by
//! the environment variable `PLINTH_FAULT` (what the PID-namespace tests set) or by
//! `plinth.fault=` on the kernel command line (a QEMU run), each a comma-separated list, and fires
//! once, the first time its point is reached. Nothing is armed unless asked for, so a production
//! boot never reaches a `panic!` here.
#![deny(clippy::arithmetic_side_effects)]

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

/// The environment variable that arms faults.
pub const ENV: &str = "PLINTH_FAULT";
/// The kernel command line word that arms faults.
pub const CMDLINE_KEY: &str = "plinth.fault";

/// A place where a fault can be injected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// `boot-panic`: the boot task panics at the start of its first `config` phase.
    BootPanic,
    /// `supervisor-panic`: the supervisor task panics on its first `list` request.
    SupervisorPanic,
    /// `stage1-panic`: stage 1 panics right after mounting the pseudo filesystems.
    Stage1Panic,
}

impl Fault {
    const ALL: [Fault; 3] = [Fault::BootPanic, Fault::SupervisorPanic, Fault::Stage1Panic];

    /// Its name in `PLINTH_FAULT` and `plinth.fault=`.
    pub fn name(self) -> &'static str {
        match self {
            Fault::BootPanic => "boot-panic",
            Fault::SupervisorPanic => "supervisor-panic",
            Fault::Stage1Panic => "stage1-panic",
        }
    }

    fn fired(self) -> &'static AtomicBool {
        static FIRED: [AtomicBool; 3] = [
            AtomicBool::new(false),
            AtomicBool::new(false),
            AtomicBool::new(false),
        ];
        match self {
            Fault::BootPanic => &FIRED[0],
            Fault::SupervisorPanic => &FIRED[1],
            Fault::Stage1Panic => &FIRED[2],
        }
    }
}

/// The faults a comma-separated list names (unknown names are ignored).
pub fn parse(list: &str) -> Vec<Fault> {
    list.split(',')
        .map(str::trim)
        .filter_map(|name| Fault::ALL.into_iter().find(|f| f.name() == name))
        .collect()
}

/// The faults the kernel command line `cmdline` arms.
pub fn from_cmdline(cmdline: &str) -> Vec<Fault> {
    cmdline
        .split_whitespace()
        .filter_map(|word| word.strip_prefix(CMDLINE_KEY)?.strip_prefix('='))
        .flat_map(parse)
        .collect()
}

/// Whether `fault` is armed for this process (read once, then remembered).
pub fn armed(fault: Fault) -> bool {
    static ARMED: OnceLock<Vec<Fault>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            let mut armed = std::env::var(ENV).map(|v| parse(&v)).unwrap_or_default();
            let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
            armed.extend(from_cmdline(&cmdline));
            armed
        })
        .contains(&fault)
}

/// Panics here when `fault` is armed and has not fired yet.
pub fn inject(fault: Fault) {
    if armed(fault) && !fault.fired().swap(true, Ordering::SeqCst) {
        #[allow(
            clippy::panic,
            reason = "the injected fault is a panic: it proves PID 1 survives one"
        )]
        {
            panic!("injected fault {}", fault.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_name_faults_and_ignore_the_rest() {
        assert_eq!(
            parse("boot-panic, nonsense,supervisor-panic"),
            [Fault::BootPanic, Fault::SupervisorPanic]
        );
        assert!(parse("").is_empty());
        assert_eq!(
            from_cmdline("console=ttyS0 plinth.fault=stage1-panic plinth.faulty=boot-panic"),
            [Fault::Stage1Panic]
        );
        assert!(from_cmdline("console=ttyS0 quiet").is_empty());
    }
}
