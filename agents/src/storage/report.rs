//! What the agent reports of a run: each configured disk's state (prepared, refused, missing,
//! failed) with why, each volume group's size and free space, and the host steps that failed.
//! Kept as JSON in [`STATE_FILE`] for `plinthctl storage`, rendered as a table for people and as
//! Prometheus text for the node exporter's textfile collector. Pure.
//!
//! Metrics: `plinth_storage_disk_state{selector,purpose,disk,state}` is 1 for a disk's current
//! state and 0 for the others; `plinth_storage_vg_size_bytes{vg}` and
//! `plinth_storage_vg_free_bytes{vg}`; `plinth_storage_host_errors` counts failed host steps.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::disk::VolumeGroup;
use super::plan::{Plan, Verdict};
use crate::prom::{gauge, label};

/// Where the last run's report is kept.
pub const STATE_FILE: &str = "/run/plinth/storage.json";

/// A configured disk's state after a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiskState {
    Prepared,
    Refused,
    Missing,
    Failed,
}

impl DiskState {
    pub const ALL: [DiskState; 4] = [Self::Prepared, Self::Refused, Self::Missing, Self::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Prepared => "prepared",
            Self::Refused => "refused",
            Self::Missing => "missing",
            Self::Failed => "failed",
        }
    }
}

/// One configured disk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskReport {
    pub selector: String,
    pub purpose: String,
    pub disk: Option<String>,
    pub state: DiskState,
    pub detail: String,
}

/// A run's report.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub disks: Vec<DiskReport>,
    pub vgs: Vec<VolumeGroup>,
    pub host_errors: Vec<String>,
}

/// The report of `plan` once applied: `failures` are (kernel name, error) of operations that
/// failed; `vgs` is LVM's view afterwards, kept for the configured groups only.
pub fn report(
    plan: &Plan,
    failures: &[(String, String)],
    vgs: &[VolumeGroup],
    configured: &[String],
    host_errors: Vec<String>,
) -> Report {
    let disks = plan
        .disks
        .iter()
        .map(|d| {
            let failed = d
                .disk
                .as_ref()
                .and_then(|name| failures.iter().find(|(n, _)| n == name));
            let (state, detail) = match (&d.verdict, failed) {
                (Verdict::Prepare { .. } | Verdict::Ours, Some((_, e))) => {
                    (DiskState::Failed, e.clone())
                }
                (Verdict::Prepare { wipe: true }, None) => (
                    DiskState::Prepared,
                    "wiped (wipe: true) and prepared now".into(),
                ),
                (Verdict::Prepare { wipe: false }, None) => {
                    (DiskState::Prepared, "was empty, prepared now".into())
                }
                (Verdict::Ours, None) => (
                    DiskState::Prepared,
                    "already prepared by Plinth, left unchanged".into(),
                ),
                (Verdict::Refused { reason }, _) => (DiskState::Refused, reason.clone()),
                (Verdict::Missing { reason }, _) => (DiskState::Missing, reason.clone()),
            };
            DiskReport {
                selector: d.selector.clone(),
                purpose: d.purpose.clone(),
                disk: d.disk.clone(),
                state,
                detail,
            }
        })
        .collect();
    Report {
        disks,
        vgs: vgs
            .iter()
            .filter(|v| configured.contains(&v.name))
            .cloned()
            .collect(),
        host_errors,
    }
}

/// The Prometheus text of `report`.
pub fn metrics(report: &Report) -> String {
    let mut out = String::new();
    gauge(
        &mut out,
        "plinth_storage_disk_state",
        "A configured disk's state: 1 for the current one.",
    );
    for d in &report.disks {
        for s in DiskState::ALL {
            let _ = writeln!(
                out,
                "plinth_storage_disk_state{{selector=\"{}\",purpose=\"{}\",disk=\"{}\",state=\"{}\"}} {}",
                label(&d.selector),
                label(&d.purpose),
                label(d.disk.as_deref().unwrap_or("")),
                s.as_str(),
                u8::from(d.state == s)
            );
        }
    }
    gauge(
        &mut out,
        "plinth_storage_vg_size_bytes",
        "A configured LVM volume group's size.",
    );
    for v in &report.vgs {
        let _ = writeln!(
            out,
            "plinth_storage_vg_size_bytes{{vg=\"{}\"}} {}",
            label(&v.name),
            v.size_bytes
        );
    }
    gauge(
        &mut out,
        "plinth_storage_vg_free_bytes",
        "A configured LVM volume group's free space.",
    );
    for v in &report.vgs {
        let _ = writeln!(
            out,
            "plinth_storage_vg_free_bytes{{vg=\"{}\"}} {}",
            label(&v.name),
            v.free_bytes
        );
    }
    gauge(
        &mut out,
        "plinth_storage_host_errors",
        "Host storage steps (modules, configfs, files) that failed.",
    );
    let _ = writeln!(
        out,
        "plinth_storage_host_errors {}",
        report.host_errors.len()
    );
    out
}

/// One console line per disk: `storage: serial:cv1 (vdb) for lvm:cinder-volumes-1: refused: …`.
pub fn lines(report: &Report) -> Vec<String> {
    let mut out: Vec<String> = report
        .disks
        .iter()
        .map(|d| {
            let on = d
                .disk
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            format!(
                "{}{on} for {}: {}: {}",
                d.selector,
                d.purpose,
                d.state.as_str(),
                d.detail
            )
        })
        .collect();
    for v in &report.vgs {
        out.push(format!(
            "volume group {}: {} bytes, {} free",
            v.name, v.size_bytes, v.free_bytes
        ));
    }
    out.extend(report.host_errors.iter().map(|e| format!("host: {e}")));
    out
}

/// The table `plinthctl storage` prints.
pub fn table(report: &Report) -> String {
    let rows: Vec<[String; 5]> = report
        .disks
        .iter()
        .map(|d| {
            [
                d.selector.clone(),
                d.purpose.clone(),
                d.disk.clone().unwrap_or_else(|| "-".into()),
                d.state.as_str().into(),
                d.detail.clone(),
            ]
        })
        .collect();
    let head = ["DISK", "FOR", "DEVICE", "STATE", "DETAIL"];
    let width = |i: usize| {
        rows.iter()
            .map(|r| r[i].len())
            .chain([head[i].len()])
            .max()
            .unwrap_or(0)
    };
    let w: Vec<usize> = (0..4).map(width).collect();
    let mut out = String::new();
    let mut row = |r: [&str; 5]| {
        let _ = writeln!(
            out,
            "{:w0$}  {:w1$}  {:w2$}  {:w3$}  {}",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2],
            w3 = w[3]
        );
    };
    row(head);
    for r in &rows {
        row([&r[0], &r[1], &r[2], &r[3], &r[4]]);
    }
    if !report.vgs.is_empty() {
        out.push('\n');
        let _ = writeln!(out, "VOLUME GROUP  SIZE  FREE");
        for v in &report.vgs {
            let gib = |b: u64| format!("{:.1}G", b as f64 / (1u64 << 30) as f64);
            let _ = writeln!(
                out,
                "{}  {}  {}",
                v.name,
                gib(v.size_bytes),
                gib(v.free_bytes)
            );
        }
    }
    for e in &report.host_errors {
        let _ = writeln!(out, "host: {e}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::plan::DiskPlan;

    fn plan() -> Plan {
        let entry = |selector: &str, disk: Option<&str>, verdict| DiskPlan {
            selector: selector.into(),
            purpose: "lvm:cinder-volumes-1".into(),
            disk: disk.map(Into::into),
            verdict,
        };
        Plan {
            disks: vec![
                entry("serial:cv1", Some("vdb"), Verdict::Prepare { wipe: false }),
                entry("serial:cv2", Some("vdc"), Verdict::Ours),
                entry(
                    "serial:old",
                    Some("vdd"),
                    Verdict::Refused {
                        reason: "vdd holds data".into(),
                    },
                ),
                entry(
                    "serial:late",
                    None,
                    Verdict::Missing {
                        reason: "no disk matches".into(),
                    },
                ),
                entry("serial:bad", Some("vde"), Verdict::Prepare { wipe: false }),
            ],
            actions: Vec::new(),
        }
    }

    #[test]
    fn each_disk_gets_its_state_and_each_group_its_sizes() {
        let vgs = [
            VolumeGroup {
                name: "cinder-volumes-1".into(),
                size_bytes: 8 << 30,
                free_bytes: 6 << 30,
            },
            VolumeGroup {
                name: "someone-elses".into(),
                size_bytes: 1,
                free_bytes: 1,
            },
        ];
        let r = report(
            &plan(),
            &[("vde".into(), "pvcreate failed".into())],
            &vgs,
            &["cinder-volumes-1".into()],
            vec![],
        );
        let states: Vec<DiskState> = r.disks.iter().map(|d| d.state).collect();
        use DiskState::*;
        assert_eq!(states, [Prepared, Prepared, Refused, Missing, Failed]);
        let text = metrics(&r);
        assert!(text.contains("plinth_storage_disk_state{selector=\"serial:old\",purpose=\"lvm:cinder-volumes-1\",disk=\"vdd\",state=\"refused\"} 1\n"), "{text}");
        assert!(text.contains("plinth_storage_disk_state{selector=\"serial:old\",purpose=\"lvm:cinder-volumes-1\",disk=\"vdd\",state=\"prepared\"} 0\n"));
        assert!(text.contains("plinth_storage_disk_state{selector=\"serial:late\",purpose=\"lvm:cinder-volumes-1\",disk=\"\",state=\"missing\"} 1\n"));
        assert!(
            text.contains("plinth_storage_vg_size_bytes{vg=\"cinder-volumes-1\"} 8589934592\n")
        );
        assert!(
            text.contains("plinth_storage_vg_free_bytes{vg=\"cinder-volumes-1\"} 6442450944\n")
        );
        assert!(!text.contains("someone-elses"));
        let t = table(&r);
        assert!(t.starts_with("DISK"), "{t}");
        assert!(t.contains("vdd holds data"));
        assert!(t.contains("cinder-volumes-1  8.0G  6.0G"));
        assert!(
            lines(&r)[2]
                .starts_with("serial:old (vdd) for lvm:cinder-volumes-1: refused: vdd holds data")
        );
        let back: Report = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
    }
}
