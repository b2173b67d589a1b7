//! `plinth-agent storage apply`: observe the disks, plan, do what the plan says, and report —
//! each disk's line on stdout (the console, through PID 1), the JSON report for
//! `plinthctl storage`, and the metrics for the textfile collector. A refused or missing disk
//! leaves the node up: the run ends 0 with the refusal reported. Disks the config names that
//! have not appeared yet are waited for (`--wait`) before they are reported missing.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use plinth_config::MachineConfig;
use plinth_config::plinth::DiskSelector;

use super::action::Action;
use super::apply::{self, write_file};
use super::host::{self, LVM_CONF};
use super::observe::{self, lvm_probe_config};
use super::plan::{Plan, Verdict, plan};
use super::report::{self, Report};

/// What `apply` is given.
#[derive(Clone, Debug)]
pub struct ApplyOptions {
    /// The machine config (the storage phase writes the parts this needs).
    pub config: PathBuf,
    /// Where the JSON report goes.
    pub state: PathBuf,
    /// The textfile collector file for the metrics, if any.
    pub textfile: Option<PathBuf>,
    /// How long to wait for disks the config names that are not there yet.
    pub wait: Duration,
    /// Plan and print the plan as JSON; change nothing.
    pub dry_run: bool,
}

/// Why a run could not even start.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("the config: {0}")]
    Config(String),
    #[error("{0}")]
    Write(#[from] apply::ApplyError),
}

fn load(path: &std::path::Path) -> Result<MachineConfig, StorageError> {
    plinth_config::load_path(path)
        .map(|p| p.config)
        .map_err(|d| StorageError::Config(d.to_string()))
}

/// The config's path selectors (resolved through their symlinks when observed).
fn path_selectors(config: &MachineConfig) -> Vec<String> {
    let s = &config.plinth.storage;
    s.longhorn
        .iter()
        .map(|l| l.device.clone())
        .chain(
            s.lvm
                .iter()
                .flat_map(|vg| vg.devices.iter().map(|d| d.device().to_owned())),
        )
        .filter(|d| matches!(DiskSelector::parse(d), Ok(DiskSelector::Path(_))))
        .collect()
}

/// Observes and plans, waiting up to `wait` for missing disks.
fn observe_and_plan(config: &MachineConfig, wait: Duration) -> (Plan, super::disk::Observed) {
    let paths = path_selectors(config);
    let start = Instant::now();
    loop {
        let observed = observe::observe(&paths);
        let plan = plan(&config.plinth.storage, &observed);
        let missing = plan
            .disks
            .iter()
            .any(|d| matches!(d.verdict, Verdict::Missing { .. }));
        if !missing || start.elapsed() >= wait {
            return (plan, observed);
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// The kernel names of the disks the plan uses (prepared now or before): LVM scans only these.
fn lvm_disks(plan: &Plan) -> Vec<String> {
    plan.disks
        .iter()
        .filter(|d| d.purpose.starts_with("lvm:"))
        .filter(|d| matches!(d.verdict, Verdict::Prepare { .. } | Verdict::Ours))
        .filter_map(|d| d.disk.clone())
        .collect()
}

/// Performs the plan's operations in order; returns (kernel name, error) for each disk whose
/// operation failed, and the errors of operations on no single disk. A disk that failed gets no
/// further operation.
fn perform(plan: &Plan, lvm_config: &str) -> (Vec<(String, String)>, Vec<String>) {
    let mut failed: Vec<(String, String)> = Vec::new();
    let mut other = Vec::new();
    let name = |dev: &str| dev.trim_start_matches("/dev/").to_owned();
    for action in &plan.actions {
        let is_failed = |dev: &str| failed.iter().any(|(n, _)| *n == name(dev));
        let action = match action {
            Action::VgCreate { vg, devs } | Action::VgExtend { vg, devs } => {
                let devs: Vec<String> = devs.iter().filter(|d| !is_failed(d)).cloned().collect();
                if devs.is_empty() {
                    continue;
                }
                if matches!(action, Action::VgCreate { .. }) {
                    Action::VgCreate {
                        vg: vg.clone(),
                        devs,
                    }
                } else {
                    Action::VgExtend {
                        vg: vg.clone(),
                        devs,
                    }
                }
            }
            a if a.dev().is_some_and(is_failed) => continue,
            a => a.clone(),
        };
        println!("storage: {}", describe(&action));
        if let Err(e) = apply::apply(&action, lvm_config) {
            let e = e.to_string();
            match &action {
                Action::VgCreate { devs, .. } | Action::VgExtend { devs, .. } => {
                    failed.extend(devs.iter().map(|d| (name(d), e.clone())));
                }
                a => match a.dev() {
                    Some(dev) => failed.push((name(dev), e)),
                    None => other.push(e),
                },
            }
        }
    }
    (failed, other)
}

fn describe(action: &Action) -> String {
    match action {
        Action::Wipe { dev, .. } => format!("wiping {dev} (its entry says wipe: true)"),
        Action::Mkfs {
            dev,
            filesystem,
            label,
        } => format!("mkfs.{filesystem} -L {label} {dev}"),
        Action::Mount { dev, path, .. } => format!("mounting {dev} at {path} (rshared)"),
        Action::PvCreate { dev } => format!("pvcreate --metadatasize 2048 {dev}"),
        Action::VgCreate { vg, devs } => format!("vgcreate {vg} {}", devs.join(" ")),
        Action::VgExtend { vg, devs } => format!("vgextend {vg} {}", devs.join(" ")),
        Action::VgActivate { vg } => format!("vgchange --activate y {vg}"),
    }
}

/// Runs the agent once.
pub fn run(opts: &ApplyOptions) -> Result<Report, StorageError> {
    let config = load(&opts.config)?;
    if opts.dry_run {
        let (plan, _) = observe_and_plan(&config, Duration::ZERO);
        println!(
            "{}",
            serde_json::to_string_pretty(&plan).unwrap_or_default()
        );
        return Ok(Report::default());
    }
    let needs = host::needs(&config);
    let mut host_errors = apply::host(&needs);
    let (plan, _) = observe_and_plan(&config, opts.wait);
    let disks = lvm_disks(&plan);
    if !config.plinth.storage.lvm.is_empty()
        && let Err(e) = write_file(LVM_CONF, &host::lvm_conf(&disks))
    {
        host_errors.push(format!("lvm.conf: {e}"));
    }
    let lvm_config = lvm_probe_config(&disks);
    let (failures, other) = perform(&plan, &lvm_config);
    host_errors.extend(other);
    let after = observe::observe(&path_selectors(&config));
    let configured: Vec<String> = config
        .plinth
        .storage
        .lvm
        .iter()
        .map(|v| v.name.clone())
        .collect();
    let report = report::report(&plan, &failures, &after.vgs, &configured, host_errors);
    for line in report::lines(&report) {
        println!("storage: {line}");
    }
    let json = serde_json::to_string_pretty(&report).unwrap_or_default();
    write_file(&opts.state.to_string_lossy(), &json)?;
    if let Some(textfile) = &opts.textfile
        && let Err(e) = write_file(&textfile.to_string_lossy(), &report::metrics(&report))
    {
        println!("storage: metrics: {e}");
    }
    Ok(report)
}
