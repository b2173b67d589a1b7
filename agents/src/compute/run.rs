//! The check's loop: observe, decide, write the report and the metrics, sleep, again. A failing
//! check never ends the loop (the node stays up and says why); only a report that cannot be
//! written is an error.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;

use super::check::{self, Expect};
use super::libvirt::{self, Libvirt};
use super::observe;
use super::report::{self, Hugepages, Report};

/// Where to look and where to write.
#[derive(Clone, Debug)]
pub struct WatchOptions {
    pub expect: Expect,
    /// The root below which sysfs and /proc are read (`/`).
    pub root: PathBuf,
    pub kvm_device: PathBuf,
    pub libvirt_socket: PathBuf,
    pub helper: PathBuf,
    pub helper_timeout: Duration,
    pub state: PathBuf,
    pub textfile: Option<PathBuf>,
    /// Check once and exit.
    pub once: bool,
    pub interval: Duration,
}

/// One pass: what the machine and libvirt say, judged against `expect`.
pub fn check_once(opts: &WatchOptions) -> Report {
    let kvm = super::kvm::api_version(&opts.kvm_device);
    let sys = observe::read(&opts.root);
    let libvirt = libvirt::ask(&opts.libvirt_socket, &opts.helper, opts.helper_timeout);
    let checks = check::checks(&opts.expect, &kvm, &sys, &libvirt);
    let mut hugepages: Vec<Hugepages> = sys
        .hugepages
        .iter()
        .map(|(kib, n)| Hugepages {
            size_kib: *kib,
            reserved: *n,
            wanted: opts
                .expect
                .hugepages
                .iter()
                .find(|(k, _)| k == kib)
                .map(|(_, w)| *w),
        })
        .collect();
    for (kib, want) in &opts.expect.hugepages {
        if !sys.hugepages.contains_key(kib) {
            hugepages.push(Hugepages {
                size_kib: *kib,
                reserved: 0,
                wanted: Some(*want),
            });
        }
    }
    Report {
        checked_at: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        checks,
        kvm_api_version: kvm.ok(),
        nested: sys.nested.map(|(_, on)| on),
        hugepages,
        iommu_groups: sys.iommu_groups,
        libvirt,
    }
}

/// Writes `text` to `path` through a temporary file beside it, so a reader never sees half.
fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))
}

/// Writes the report and the metrics.
pub fn write(report: &Report, opts: &WatchOptions) -> anyhow::Result<()> {
    write_atomically(&opts.state, &serde_json::to_string_pretty(report)?)?;
    if let Some(textfile) = &opts.textfile {
        write_atomically(textfile, &report::metrics(report))?;
    }
    Ok(())
}

/// Checks, writes, and (unless `once`) sleeps and checks again; says on stderr (the service's
/// log) whenever a check's state changes.
pub fn watch(opts: &WatchOptions) -> anyhow::Result<Report> {
    let mut said: Vec<String> = Vec::new();
    loop {
        let report = check_once(opts);
        write(&report, opts)?;
        let now: Vec<String> = report
            .checks
            .iter()
            .map(|c| format!("{}: {}: {}", c.name, c.state.as_str(), c.detail))
            .collect();
        for line in now.iter().filter(|l| !said.contains(l)) {
            eprintln!("compute: {line}");
        }
        said = now;
        if opts.once {
            return Ok(report);
        }
        // A libvirt that just came up is asked again soon rather than at the next full interval.
        let pause = match report.libvirt {
            Libvirt::NotYet { .. } => opts.interval.min(Duration::from_secs(30)),
            _ => opts.interval,
        };
        std::thread::sleep(pause);
    }
}
