//! Root shells on the consoles for labs and debugging (`autologin-TTY`), the equivalent of Flatcar's
//! `flatcar.autologin`: the kernel argument `plinth.autologin=TTY[,TTY...]` (e.g. `ttyS1` or
//! `tty1,ttyS0`) gives each named terminal a root login shell without a password — `/bin/bash -l`
//! when bash is installed, else `/bin/sh -l` — as a login session on `/dev/TTY`, restarted always
//! so that `exit` gives a fresh one. It comes after nothing (no network, no udev), so it is there
//! in every mode, maintenance mode included, and it is kept across `plinthctl config apply`.
//! Without the argument nothing changes. The console is told once per boot that the shells are
//! offered, and which values were refused.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use plinth_config::MachineConfig;

use super::builtin::daemon;
use super::facts::Facts;
use crate::console;
use crate::supervisor::spec::{Probe, ServiceSpec};

/// The kernel argument.
pub const ARGUMENT: &str = "plinth.autologin";

/// The login shell when bash is missing.
pub const SH: &str = "/bin/sh";
/// The login shell when installed.
pub const BASH: &str = "/bin/bash";

/// What the kernel command line asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request {
    /// Terminal names (under /dev), in order, each once.
    pub ttys: Vec<String>,
    /// Values refused, each with why.
    pub refused: Vec<String>,
}

/// Reads every `plinth.autologin=` argument (their lists add up).
pub fn request(cmdline: &[String]) -> Request {
    let mut out = Request::default();
    for arg in cmdline {
        let Some(rest) = arg.strip_prefix(ARGUMENT) else {
            continue;
        };
        // `plinth.autologin` and `plinth.autologin=` alike name no terminal.
        let value = match rest.strip_prefix('=') {
            Some(value) => value,
            None if rest.is_empty() => "",
            None => continue,
        };
        if value.is_empty() {
            out.refused.push(format!(
                "`{arg}`: name the terminals, e.g. {ARGUMENT}=ttyS0 or {ARGUMENT}=tty1,ttyS0"
            ));
            continue;
        }
        for tty in value.split(',') {
            if tty == "console" {
                out.refused.push(format!(
                    "`{ARGUMENT}={value}`: /dev/console cannot be a controlling terminal; name the terminal behind it (console=ttyS0 → {ARGUMENT}=ttyS0)"
                ));
            } else if !valid_tty(tty) {
                out.refused.push(format!(
                    "`{ARGUMENT}={value}`: `{tty}` is not a terminal name; expected a name under /dev such as tty1, ttyS0 or hvc0 (letters and digits only)"
                ));
            } else if !out.ttys.iter().any(|t| t == tty) {
                out.ttys.push(tty.to_string());
            }
        }
    }
    out
}

/// A device name directly under /dev: a letter, then letters and digits (no `/`, no `..`).
fn valid_tty(name: &str) -> bool {
    name.len() <= 32
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric())
}

/// One `autologin-TTY` service per requested terminal.
pub fn plan(_: &MachineConfig, facts: &Facts) -> Vec<ServiceSpec> {
    let shell = if facts.bash { BASH } else { SH };
    request(&facts.cmdline)
        .ttys
        .iter()
        .map(|tty| session(tty, shell))
        .collect()
}

/// A root login shell on `/dev/TTY`.
fn session(tty: &str, shell: &str) -> ServiceSpec {
    let term = if tty.starts_with("tty") && tty[3..].chars().all(|c| c.is_ascii_digit()) {
        "linux"
    } else {
        "vt100"
    };
    let env: BTreeMap<String, String> = [
        ("HOME", "/root"),
        ("USER", "root"),
        ("LOGNAME", "root"),
        ("SHELL", shell),
        ("TERM", term),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    ServiceSpec {
        env,
        tty: Some(format!("/dev/{tty}")),
        // A hangup is how a terminal session ends: the shell exits and hangs up its jobs (an
        // interactive shell ignores SIGTERM).
        stop_signal: libc::SIGHUP,
        stop_timeout: Duration::from_secs(3),
        ..daemon(
            &format!("autologin-{tty}"),
            &[shell, "-l"],
            Probe::Running,
            &[],
        )
    }
}

/// Says, once per boot, which root shells are offered and which values were refused.
pub fn announce(facts: &Facts) {
    static SAID: AtomicBool = AtomicBool::new(false);
    let request = request(&facts.cmdline);
    if (request.ttys.is_empty() && request.refused.is_empty()) || SAID.swap(true, Ordering::SeqCst)
    {
        return;
    }
    let exists = |tty: &String| std::path::Path::new("/dev").join(tty).exists();
    for line in lines(&request, exists) {
        console::say(&line);
    }
}

/// The console lines for `request`; `exists` says whether a terminal's device is there.
pub fn lines(request: &Request, exists: impl Fn(&String) -> bool) -> Vec<String> {
    let mut lines: Vec<String> = request
        .refused
        .iter()
        .map(|why| format!("{ARGUMENT}: ignored {why}"))
        .collect();
    for tty in &request.ttys {
        lines.push(format!(
            "WARNING: a root shell WITHOUT PASSWORD is offered on {tty} because of {ARGUMENT} on the kernel command line; for labs and debugging only"
        ));
        if !exists(tty) {
            lines.push(format!(
                "{ARGUMENT}: /dev/{tty} does not exist (yet): its shell is retried until it does; check the name (ls /dev/tty*)"
            ));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(cmdline: &str) -> Vec<String> {
        super::super::facts::cmdline_args(cmdline)
    }

    fn facts(cmdline: &str, bash: bool) -> Facts {
        Facts {
            cmdline: args(cmdline),
            bash,
            ..Facts::default()
        }
    }

    #[test]
    fn nothing_without_the_argument() {
        let none = facts("console=ttyS0 quiet plinth.autologinx=tty1", true);
        assert!(plan(&MachineConfig::default(), &none).is_empty());
        assert!(lines(&request(&none.cmdline), |_| true).is_empty());
    }

    #[test]
    fn one_root_login_shell_per_terminal() {
        let f = facts("console=ttyS0 plinth.autologin=tty1,ttyS0", true);
        let specs = plan(&MachineConfig::default(), &f);
        let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["autologin-tty1", "autologin-ttyS0"]);
        let serial = &specs[1];
        assert_eq!(serial.exec, [BASH, "-l"]);
        assert_eq!(serial.tty.as_deref(), Some("/dev/ttyS0"));
        assert_eq!(serial.env["HOME"], "/root");
        assert_eq!(serial.env["TERM"], "vt100");
        assert_eq!(specs[0].env["TERM"], "linux");
        assert!(serial.after.is_empty(), "must not wait for anything");
        assert_eq!(
            serial.restart,
            crate::supervisor::spec::RestartPolicy::Always
        );
        assert_eq!(serial.probe, Probe::Running);
        assert_eq!(serial.stop_signal, libc::SIGHUP);
        let f = facts("plinth.autologin=ttyS1", false);
        assert_eq!(plan(&MachineConfig::default(), &f)[0].exec, [SH, "-l"]);
    }

    #[test]
    fn arguments_add_up_and_repeat_once() {
        let r = request(&args(
            "plinth.autologin=ttyS1 plinth.autologin=tty1,ttyS1 plinth.autologin=hvc0",
        ));
        assert_eq!(r.ttys, ["ttyS1", "tty1", "hvc0"]);
        assert!(r.refused.is_empty());
    }

    #[test]
    fn bad_values_are_refused_by_name() {
        let r = request(&args(
            "plinth.autologin=../x plinth.autologin=ttyS1,/dev/tty2,, plinth.autologin plinth.autologin=",
        ));
        assert_eq!(r.ttys, ["ttyS1"]);
        assert_eq!(r.refused.len(), 6, "{:?}", r.refused);
        assert!(r.refused[0].contains("`../x`"), "{}", r.refused[0]);
        assert!(r.refused[1].contains("`/dev/tty2`"), "{}", r.refused[1]);
        assert!(
            r.refused[4].contains("name the terminals"),
            "{}",
            r.refused[4]
        );
        assert!(
            r.refused[5].contains("name the terminals"),
            "{}",
            r.refused[5]
        );
        assert!(request(&args("plinth.autologin=console")).refused[0].contains("console=ttyS0"));
        let said = lines(&r, |_| true).join("\n");
        assert!(said.contains("plinth.autologin: ignored `plinth.autologin=../x`"));
        assert!(said.contains("WITHOUT PASSWORD is offered on ttyS1"));
        assert!(!said.contains("offered on ../x"));
        assert!(!said.contains("does not exist"));
        let said = lines(&r, |t| t != "ttyS1").join("\n");
        assert!(said.contains("/dev/ttyS1 does not exist (yet)"), "{said}");
        assert!(!valid_tty(&"t".repeat(33)));
        assert!(valid_tty("ttyAMA0") && valid_tty("hvc0"));
    }

    #[test]
    fn a_machine_with_autologin_plans_a_valid_graph() {
        let f = facts("plinth.autologin=ttyS1", true);
        let (specs, skipped) = super::super::plan_from(
            super::super::BUILTINS,
            &MachineConfig::default(),
            &f,
            |_| true,
        );
        assert!(skipped.is_empty());
        assert!(specs.iter().any(|s| s.name == "autologin-ttyS1"));
        crate::supervisor::planner::plan(specs, &[], Default::default()).unwrap();
    }
}
