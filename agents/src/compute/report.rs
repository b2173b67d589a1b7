//! The compute report: each check's verdict and the numbers behind them, kept as JSON in
//! [`STATE_FILE`] for `plinthctl compute`, shown as a table, and written as Prometheus text for the
//! node exporter's textfile collector. Pure.
//!
//! Metrics: `plinth_compute_check{check,state}` is 1 for a check's current state and 0 for the
//! others; `plinth_compute_kvm_api_version` (absent when /dev/kvm cannot be asked);
//! `plinth_compute_nested` (1 on, 0 off; absent with no KVM module); `plinth_compute_hugepages{size_kib}`
//! reserved and `plinth_compute_hugepages_wanted{size_kib}` configured; `plinth_compute_iommu_groups`;
//! `plinth_compute_libvirt_up` (1 when libvirt answered); `plinth_compute_libvirt_info{version,
//! hypervisor,hypervisor_version}` 1 and `plinth_compute_libvirt_kvm` once it answered;
//! `plinth_compute_last_check_timestamp_seconds`.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::check::{Check, State};
use super::libvirt::Libvirt;
use crate::prom::{gauge, label};

/// Where the last check's report is kept.
pub const STATE_FILE: &str = "/run/plinth/compute.json";

/// One hugepage size.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hugepages {
    pub size_kib: u64,
    pub reserved: u64,
    pub wanted: Option<u64>,
}

/// A check's report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Seconds since the epoch.
    pub checked_at: u64,
    pub checks: Vec<Check>,
    pub kvm_api_version: Option<i32>,
    pub nested: Option<bool>,
    pub hugepages: Vec<Hugepages>,
    pub iommu_groups: usize,
    pub libvirt: Libvirt,
}

impl Report {
    /// Whether no check fails (waiting and not-applicable ones do not).
    pub fn healthy(&self) -> bool {
        self.checks.iter().all(|c| c.state != State::Failing)
    }
}

/// The Prometheus text of `report`.
pub fn metrics(report: &Report) -> String {
    let mut out = String::new();
    gauge(
        &mut out,
        "plinth_compute_check",
        "A compute check's state: 1 for the current one.",
    );
    for c in &report.checks {
        for s in State::ALL {
            let _ = writeln!(
                out,
                "plinth_compute_check{{check=\"{}\",state=\"{}\"}} {}",
                label(&c.name),
                s.as_str(),
                u8::from(c.state == s)
            );
        }
    }
    if let Some(v) = report.kvm_api_version {
        gauge(
            &mut out,
            "plinth_compute_kvm_api_version",
            "What KVM_GET_API_VERSION on /dev/kvm answered.",
        );
        let _ = writeln!(out, "plinth_compute_kvm_api_version {v}");
    }
    if let Some(on) = report.nested {
        gauge(
            &mut out,
            "plinth_compute_nested",
            "KVM's nested virtualization: 1 on, 0 off.",
        );
        let _ = writeln!(out, "plinth_compute_nested {}", u8::from(on));
    }
    gauge(
        &mut out,
        "plinth_compute_hugepages",
        "Hugepages the kernel reserved, by page size.",
    );
    for h in &report.hugepages {
        let _ = writeln!(
            out,
            "plinth_compute_hugepages{{size_kib=\"{}\"}} {}",
            h.size_kib, h.reserved
        );
    }
    gauge(
        &mut out,
        "plinth_compute_hugepages_wanted",
        "Hugepages plinth.kernel.hugepages asks for, by page size.",
    );
    for h in &report.hugepages {
        if let Some(w) = h.wanted {
            let _ = writeln!(
                out,
                "plinth_compute_hugepages_wanted{{size_kib=\"{}\"}} {w}",
                h.size_kib
            );
        }
    }
    gauge(
        &mut out,
        "plinth_compute_iommu_groups",
        "IOMMU groups the kernel made.",
    );
    let _ = writeln!(out, "plinth_compute_iommu_groups {}", report.iommu_groups);
    gauge(
        &mut out,
        "plinth_compute_libvirt_up",
        "1 when libvirt answered on its socket.",
    );
    let up = matches!(report.libvirt, Libvirt::Answered(_));
    let _ = writeln!(out, "plinth_compute_libvirt_up {}", u8::from(up));
    if let Libvirt::Answered(f) = &report.libvirt {
        gauge(
            &mut out,
            "plinth_compute_libvirt_info",
            "libvirt's and the hypervisor's versions.",
        );
        let _ = writeln!(
            out,
            "plinth_compute_libvirt_info{{version=\"{}\",hypervisor=\"{}\",hypervisor_version=\"{}\"}} 1",
            label(&f.version),
            label(&f.hypervisor),
            label(&f.hypervisor_version)
        );
        gauge(
            &mut out,
            "plinth_compute_libvirt_kvm",
            "1 when libvirt offers KVM domains of the host's architecture.",
        );
        let _ = writeln!(out, "plinth_compute_libvirt_kvm {}", u8::from(f.kvm));
    }
    gauge(
        &mut out,
        "plinth_compute_last_check_timestamp_seconds",
        "When the compute checks last ran.",
    );
    let _ = writeln!(
        out,
        "plinth_compute_last_check_timestamp_seconds {}",
        report.checked_at
    );
    out
}

/// The table `plinthctl compute` prints.
pub fn table(report: &Report) -> String {
    let head = ["CHECK", "STATE", "DETAIL"];
    let w0 = report
        .checks
        .iter()
        .map(|c| c.name.len())
        .chain([head[0].len()])
        .max()
        .unwrap_or(0);
    let w1 = report
        .checks
        .iter()
        .map(|c| c.state.as_str().len())
        .chain([head[1].len()])
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    let _ = writeln!(out, "{:w0$}  {:w1$}  {}", head[0], head[1], head[2]);
    for c in &report.checks {
        let _ = writeln!(
            out,
            "{:w0$}  {:w1$}  {}",
            c.name,
            c.state.as_str(),
            c.detail
        );
    }
    out
}

/// One console line per check that is not ok.
pub fn lines(report: &Report) -> Vec<String> {
    report
        .checks
        .iter()
        .filter(|c| c.state != State::Ok && c.state != State::NotApplicable)
        .map(|c| format!("{}: {}: {}", c.name, c.state.as_str(), c.detail))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use plinth_virt_check::LibvirtFacts;

    fn report(libvirt: Libvirt) -> Report {
        Report {
            checked_at: 1_700_000_000,
            checks: vec![
                Check {
                    name: "kvm".into(),
                    state: State::Ok,
                    detail: "/dev/kvm answers API version 12".into(),
                },
                Check {
                    name: "libvirt".into(),
                    state: State::Waiting,
                    detail: "no libvirt yet".into(),
                },
            ],
            kvm_api_version: Some(12),
            nested: Some(true),
            hugepages: vec![
                Hugepages {
                    size_kib: 2048,
                    reserved: 512,
                    wanted: Some(512),
                },
                Hugepages {
                    size_kib: 1_048_576,
                    reserved: 0,
                    wanted: None,
                },
            ],
            iommu_groups: 0,
            libvirt,
        }
    }

    #[test]
    fn the_metrics_say_each_checks_state_and_the_numbers() {
        let text = metrics(&report(Libvirt::NotYet {
            socket: "/run/libvirt/libvirt-sock".into(),
            why: "x".into(),
        }));
        for line in [
            "plinth_compute_check{check=\"kvm\",state=\"ok\"} 1",
            "plinth_compute_check{check=\"kvm\",state=\"failing\"} 0",
            "plinth_compute_check{check=\"libvirt\",state=\"waiting\"} 1",
            "plinth_compute_kvm_api_version 12",
            "plinth_compute_nested 1",
            "plinth_compute_hugepages{size_kib=\"2048\"} 512",
            "plinth_compute_hugepages{size_kib=\"1048576\"} 0",
            "plinth_compute_hugepages_wanted{size_kib=\"2048\"} 512",
            "plinth_compute_iommu_groups 0",
            "plinth_compute_libvirt_up 0",
            "plinth_compute_last_check_timestamp_seconds 1700000000",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert!(!text.contains("hugepages_wanted{size_kib=\"1048576\"}"));
        assert!(!text.contains("plinth_compute_libvirt_info"));
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(l.starts_with("plinth_compute_"), "{l}");
        }
    }

    #[test]
    fn an_answering_libvirt_shows_its_versions() {
        let f = LibvirtFacts {
            version: "9.0.0".into(),
            hypervisor: "QEMU".into(),
            hypervisor_version: "10.0.2".into(),
            host_arch: "x86_64".into(),
            guests: vec![],
            kvm: true,
        };
        let r = report(Libvirt::Answered(f));
        let text = metrics(&r);
        assert!(text.contains("plinth_compute_libvirt_up 1\n"));
        assert!(text.contains("plinth_compute_libvirt_info{version=\"9.0.0\",hypervisor=\"QEMU\",hypervisor_version=\"10.0.2\"} 1\n"));
        assert!(text.contains("plinth_compute_libvirt_kvm 1\n"));
        let back: Report = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
        assert!(r.healthy());
        assert_eq!(lines(&r), ["libvirt: waiting: no libvirt yet"]);
        let t = table(&r);
        assert!(
            t.starts_with("CHECK    STATE    DETAIL\nkvm      ok       /dev/kvm"),
            "{t}"
        );
    }
}
