//! The node's identity and the cloud-init steps that act on it: hostname and /etc/hosts, users and
//! their SSH keys, `write_files`, `bootcmd`/`runcmd`, `ca_certs` and `timezone`.
//!
//! Each file owns one concept with a pure part (config → text or plan, unit-tested) and effects
//! that take a root directory, so they are tested on temp dirs. This module strings them together
//! in cloud-init's order for the two boot phases that use them:
//!
//! - [`early`] (phase `identity`, right after `config`): hostname every boot, the user-data's
//!   boothooks and then `bootcmd` every boot,
//!   then, for a new instance only, `write_files`, users, deferred `write_files`; `ca_certs` and
//!   `timezone` every boot (they are idempotent and follow the config). The instance-id is recorded
//!   once these ran.
//! - [`late`] (phase `runcmd`, after `services`, when the network is up as in cloud-init's final
//!   stage): `runcmd` and then the user-data's scripts once per instance, recorded separately;
//!   per-boot scripts every boot.
//!
//! A failing step prints why and the others still run: a bad entry never stops the boot.

pub mod accounts;
pub mod ca_certs;
pub mod commands;
pub mod files;
pub mod fsutil;
pub mod home;
pub mod hostname;
pub mod instance;
pub mod scripts;
pub mod timezone;
pub mod users;

use std::path::{Path, PathBuf};

use plinth_config::MachineConfig;

use crate::console;
use crate::pid1::reaper::Reaper;

/// Where the node steps act.
#[derive(Debug)]
pub struct Target<'a> {
    /// The root directory (`/` on a machine).
    pub root: &'a Path,
    /// Set the kernel hostname and mount /home (only on the real root).
    pub machine: bool,
    /// Runs the commands.
    pub reaper: &'a Reaper,
    /// Where the commands' output is logged.
    pub log_dir: Option<PathBuf>,
}

impl<'a> Target<'a> {
    /// The real machine's root, where the boot phases act.
    pub fn machine(reaper: &'a Reaper, log_dir: Option<PathBuf>) -> Self {
        Target {
            root: Path::new("/"),
            machine: true,
            reaper,
            log_dir,
        }
    }
}

/// What the steps did: a summary and the errors (each already printed).
#[derive(Debug, Default)]
pub struct Report {
    /// Short phrases for the phase's line.
    pub done: Vec<String>,
    /// Errors, one line each.
    pub errors: Vec<String>,
}

impl Report {
    fn error(&mut self, line: String) {
        console::say(&format!("error: {line}"));
        self.errors.push(line);
    }

    /// The phase's line: what was done, and how many errors.
    pub fn summary(&self) -> String {
        let mut s = self.done.join(", ");
        if !self.errors.is_empty() {
            s.push_str(&format!(
                " ({} error{}, see above)",
                self.errors.len(),
                if self.errors.len() == 1 { "" } else { "s" }
            ));
        }
        s
    }
}

/// Hostname, bootcmd, per-instance files and users, CAs and time zone.
pub async fn early(target: &Target<'_>, config: &MachineConfig, instance_id: &str) -> Report {
    let mut report = Report::default();
    let root = target.root;

    let mac = target
        .machine
        .then(|| hostname::first_ethernet_mac(Path::new("/sys/class/net")))
        .flatten();
    let existing_hosts = std::fs::read_to_string(root.join("etc/hosts")).unwrap_or_default();
    let identity = hostname::plan(config, mac.as_deref(), &existing_hosts);
    match hostname::apply(root, &identity, target.machine) {
        Ok(()) => report.done.push(format!(
            "hostname {}{}",
            identity.hostname,
            identity
                .fqdn
                .as_deref()
                .map(|f| format!(" ({f})"))
                .unwrap_or_default()
        )),
        Err(e) => report.error(format!("hostname {}: {e}", identity.hostname)),
    }

    let log = target.log_dir.as_deref().map(commands::log_path);
    let boothooks: Vec<&plinth_config::cloud_init::Script> =
        config.user_scripts.boothooks.iter().collect();
    if !boothooks.is_empty() {
        let outcomes = scripts::run(
            target.reaper,
            root,
            "boothook",
            &boothooks,
            &[("INSTANCE_ID", instance_id)],
            log.as_deref(),
        )
        .await;
        note_commands(&mut report, "boothooks", &outcomes);
    }
    if !config.bootcmd.is_empty() {
        let outcomes =
            commands::run_all(target.reaper, "bootcmd", &config.bootcmd, log.as_deref()).await;
        note_commands(&mut report, "bootcmd", &outcomes);
    }

    let recorded = instance::recorded(root, instance::RECORD);
    if instance::is_new(recorded.as_deref(), instance_id) {
        console::say(&format!(
            "instance {instance_id}: new (was {}): users and write_files run",
            recorded.as_deref().unwrap_or("none")
        ));
        per_instance(target, config, &mut report);
        match instance::record(root, instance::RECORD, instance_id) {
            Ok(()) => report.done.push(format!("new instance {instance_id}")),
            Err(e) => report.error(format!("recording the instance-id: {e}")),
        }
    } else {
        report
            .done
            .push(format!("instance {instance_id} already set up"));
    }

    if let Some(certs) = &config.ca_certs {
        match ca_certs::apply(root, certs) {
            Ok(line) => report.done.push(line),
            Err(e) => report.error(format!("ca_certs: {e}")),
        }
    }
    if let Some(tz) = &config.timezone {
        match timezone::apply(root, tz) {
            Ok(line) => report.done.push(line),
            Err(e) => report.error(e.to_string()),
        }
    }
    report
}

/// write_files, users, deferred write_files.
fn per_instance(target: &Target<'_>, config: &MachineConfig, report: &mut Report) {
    let write_pass = |report: &mut Report, deferred: bool| {
        for file in files::pass(&config.write_files, deferred) {
            match files::write(target.root, file) {
                Ok(line) => console::say(&line),
                Err(e) => report.error(e.to_string()),
            }
        }
    };
    write_pass(report, false);
    let users = users::wanted(config);
    if !users.is_empty() {
        if target.machine {
            match home::ensure_writable() {
                Ok(Some(line)) => console::say(&line),
                Ok(None) => {}
                Err(e) => report.error(e.to_string()),
            }
        }
        match users::apply(target.root, &users) {
            Ok(lines) => {
                for line in &lines {
                    console::say(line);
                }
                report.done.push(format!("{} user(s)", lines.len()));
            }
            Err(e) => report.error(format!("users: {e}")),
        }
    }
    write_pass(report, true);
    if !config.write_files.is_empty() {
        report
            .done
            .push(format!("{} file(s)", config.write_files.len()));
    }
}

/// runcmd and the user-data's scripts, once per instance; per-boot scripts every boot.
pub async fn late(target: &Target<'_>, config: &MachineConfig, instance_id: &str) -> Report {
    use plinth_config::cloud_init::Frequency;
    let mut report = Report::default();
    let log = target.log_dir.as_deref().map(commands::log_path);
    let of = |f: Frequency| -> Vec<&plinth_config::cloud_init::Script> {
        config
            .user_scripts
            .scripts
            .iter()
            .filter(|s| s.frequency == f)
            .collect()
    };
    let recorded = instance::recorded(target.root, instance::RUNCMD_RECORD);
    if instance::is_new(recorded.as_deref(), instance_id) {
        if config.runcmd.is_empty() {
            report.done.push("no runcmd".into());
        } else {
            let outcomes =
                commands::run_all(target.reaper, "runcmd", &config.runcmd, log.as_deref()).await;
            note_commands(&mut report, "runcmd", &outcomes);
        }
        let per_instance = of(Frequency::Instance);
        if !per_instance.is_empty() {
            let outcomes = scripts::run(
                target.reaper,
                target.root,
                "script",
                &per_instance,
                &[],
                log.as_deref(),
            )
            .await;
            note_commands(&mut report, "scripts", &outcomes);
        }
        if let Err(e) = instance::record(target.root, instance::RUNCMD_RECORD, instance_id) {
            report.error(format!("recording that runcmd ran: {e}"));
        }
    } else {
        report.done.push(format!(
            "runcmd and scripts already ran for instance {instance_id}"
        ));
    }
    let per_boot = of(Frequency::Boot);
    if !per_boot.is_empty() {
        let outcomes = scripts::run(
            target.reaper,
            target.root,
            "per-boot",
            &per_boot,
            &[],
            log.as_deref(),
        )
        .await;
        note_commands(&mut report, "per-boot scripts", &outcomes);
    }
    report
}

fn note_commands(report: &mut Report, kind: &str, outcomes: &[commands::Outcome]) {
    let summary = commands::summary(outcomes);
    if outcomes.iter().all(commands::Outcome::succeeded) {
        report.done.push(format!("{kind}: {summary}"));
    } else {
        report.error(format!("{kind}: {summary}"));
    }
}
