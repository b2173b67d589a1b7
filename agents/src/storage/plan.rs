//! The storage planner: from the config's `plinth.storage` and the observed disks, what to do to
//! each configured disk — prepare it, leave it (already Plinth's), refuse it (with why) or wait for
//! it (missing) — and the ordered operations. Pure: no disk is read or written here.
//!
//! The rules: the system disk and disks in use are never targets; a disk that holds data
//! ([`Disk::data`]) is refused unless its own entry says `wipe: true`; a disk Plinth prepared
//! before (a filesystem with [`LONGHORN_LABEL`], a physical volume of the configured group) is
//! recognised and not changed again.

use std::collections::BTreeMap;

use plinth_config::plinth::{DiskSelector, Storage};
use serde::Serialize;

use super::action::Action;
use super::disk::{Disk, Observed};
use super::select::{Selected, select};

/// The label of the Longhorn filesystem Plinth makes (xfs labels hold 12 bytes).
pub const LONGHORN_LABEL: &str = "plinth-lh";

/// What the planner decided for one configured disk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Prepare it (it is empty, or its entry says wipe and it will be wiped first).
    Prepare { wipe: bool },
    /// Already prepared by Plinth: nothing to change.
    Ours,
    /// Not touched, and why.
    Refused { reason: String },
    /// No disk matches (yet).
    Missing { reason: String },
}

/// One configured disk and its verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DiskPlan {
    /// The selector as the config wrote it.
    pub selector: String,
    /// What it is for: `longhorn` or `lvm:<group>`.
    pub purpose: String,
    /// The kernel name of the disk it matched, if one.
    pub disk: Option<String>,
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// The whole plan.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub disks: Vec<DiskPlan>,
    pub actions: Vec<Action>,
}

/// One disk a config entry wants.
struct Want<'a> {
    selector: &'a str,
    purpose: String,
    wipe: bool,
}

/// Plans `storage` against `observed`.
pub fn plan(storage: &Storage, observed: &Observed) -> Plan {
    let mut plan = Plan::default();
    // Which disk each entry already claimed, so two selectors of one disk cannot both use it.
    let mut claimed: BTreeMap<String, String> = BTreeMap::new();
    if let Some(lh) = &storage.longhorn {
        let want = Want {
            selector: &lh.device,
            purpose: "longhorn".into(),
            wipe: lh.wipe,
        };
        let fs = lh.filesystem.as_str();
        let (entry, disk) = judge(&want, observed, &mut claimed, |d| {
            let sig = d.signature.as_ref()?;
            (sig.kind == fs && sig.label.as_deref() == Some(LONGHORN_LABEL)).then_some(())
        });
        if let Some(disk) = disk {
            let dev = disk.dev();
            match &entry.verdict {
                Verdict::Prepare { wipe } => {
                    if *wipe {
                        plan.actions.push(wipe_action(disk));
                    }
                    plan.actions.push(Action::Mkfs {
                        dev: dev.clone(),
                        filesystem: fs.into(),
                        label: LONGHORN_LABEL.into(),
                    });
                    plan.actions.push(mount(&dev, &lh.path, fs));
                }
                Verdict::Ours if !disk.mounts.contains(&lh.path) => {
                    plan.actions.push(mount(&dev, &lh.path, fs));
                }
                _ => {}
            }
        }
        plan.disks.push(entry);
    }
    for vg in &storage.lvm {
        let mut fresh = Vec::new();
        let mut has_ours = false;
        for pv in &vg.devices {
            let want = Want {
                selector: pv.device(),
                purpose: format!("lvm:{}", vg.name),
                wipe: pv.wipe(vg.wipe),
            };
            let (entry, disk) = judge(&want, observed, &mut claimed, |d| {
                let sig = d.signature.as_ref()?;
                (sig.kind == "LVM2_member" && sig.vg.as_deref() == Some(vg.name.as_str()))
                    .then_some(())
            });
            if let Some(disk) = disk {
                match &entry.verdict {
                    Verdict::Prepare { wipe } => {
                        if *wipe {
                            plan.actions.push(wipe_action(disk));
                        }
                        plan.actions.push(Action::PvCreate { dev: disk.dev() });
                        fresh.push(disk.dev());
                    }
                    Verdict::Ours => has_ours = true,
                    _ => {}
                }
            }
            plan.disks.push(entry);
        }
        let exists = has_ours || observed.vgs.iter().any(|v| v.name == vg.name);
        if !fresh.is_empty() {
            plan.actions.push(if exists {
                Action::VgExtend {
                    vg: vg.name.clone(),
                    devs: fresh.clone(),
                }
            } else {
                Action::VgCreate {
                    vg: vg.name.clone(),
                    devs: fresh.clone(),
                }
            });
        }
        if exists || !fresh.is_empty() {
            plan.actions.push(Action::VgActivate {
                vg: vg.name.clone(),
            });
        }
    }
    plan
}

fn mount(dev: &str, path: &str, fs: &str) -> Action {
    Action::Mount {
        dev: dev.into(),
        path: path.into(),
        filesystem: fs.into(),
    }
}

fn wipe_action(disk: &Disk) -> Action {
    Action::Wipe {
        dev: disk.dev(),
        partitions: disk
            .partitions
            .iter()
            .map(|p| format!("/dev/{p}"))
            .collect(),
    }
}

/// The verdict for one wanted disk; `ours` says whether a disk already is what Plinth made.
fn judge<'a>(
    want: &Want,
    observed: &'a Observed,
    claimed: &mut BTreeMap<String, String>,
    ours: impl Fn(&Disk) -> Option<()>,
) -> (DiskPlan, Option<&'a Disk>) {
    let entry = |disk: Option<&Disk>, verdict| DiskPlan {
        selector: want.selector.to_owned(),
        purpose: want.purpose.clone(),
        disk: disk.map(|d| d.name.clone()),
        verdict,
    };
    let refused = |reason: String| Verdict::Refused { reason };
    let selector = match DiskSelector::parse(want.selector) {
        Ok(s) => s,
        Err(e) => return (entry(None, refused(e.to_string())), None),
    };
    let resolved = observed.resolved.get(want.selector).map(String::as_str);
    let disk = match select(&selector, resolved, &observed.disks) {
        Selected::One(d) => d,
        Selected::None(reason) => return (entry(None, Verdict::Missing { reason }), None),
        Selected::Several(reason) => return (entry(None, refused(reason)), None),
    };
    if let Some(first) = claimed.get(&disk.name) {
        let reason = format!("{} is already used for {first}", disk.name);
        return (entry(Some(disk), refused(reason)), None);
    }
    claimed.insert(disk.name.clone(), want.purpose.clone());
    if disk.system {
        let reason = disk.untouchable().unwrap_or_default();
        return (entry(Some(disk), refused(reason)), None);
    }
    if ours(disk).is_some() {
        return (entry(Some(disk), Verdict::Ours), Some(disk));
    }
    if let Some(reason) = disk.untouchable() {
        return (entry(Some(disk), refused(reason)), None);
    }
    let data = disk.data();
    if data.is_empty() {
        return (
            entry(Some(disk), Verdict::Prepare { wipe: false }),
            Some(disk),
        );
    }
    if want.wipe {
        return (
            entry(Some(disk), Verdict::Prepare { wipe: true }),
            Some(disk),
        );
    }
    let reason = format!(
        "{} holds data ({}); it is left as it is: give this disk `wipe: true` to have it wiped",
        disk.name,
        data.join(", ")
    );
    (entry(Some(disk), refused(reason)), None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::disk::{Signature, VolumeGroup};

    fn storage(yaml: &str) -> Storage {
        plinth_config::parse("t", &format!("#cloud-config\nplinth:\n  storage:\n{yaml}"))
            .unwrap()
            .config
            .plinth
            .storage
    }

    const CINDER: &str =
        "    lvm:\n      - name: cinder-volumes-1\n        devices: [serial:cv1, serial:cv2]\n";
    const LONGHORN: &str = "    longhorn:\n      device: serial:lh0\n";

    fn empty(name: &str, serial: &str) -> Disk {
        Disk {
            name: name.into(),
            serial: Some(serial.into()),
            links: vec![format!("/dev/disk/by-id/virtio-{serial}")],
            size_bytes: 4 << 30,
            head_zero: true,
            tail_zero: true,
            ..Disk::default()
        }
    }

    fn sig(kind: &str, label: Option<&str>, vg: Option<&str>) -> Option<Signature> {
        Some(Signature {
            kind: kind.into(),
            uuid: Some("0b9c1b9e-5b1e-4d33-a3f6-7a0c8d3c2e11".into()),
            label: label.map(Into::into),
            vg: vg.map(Into::into),
        })
    }

    fn seen(disks: Vec<Disk>) -> Observed {
        Observed {
            disks,
            ..Observed::default()
        }
    }

    fn verdicts(plan: &Plan) -> Vec<(&str, &Verdict)> {
        plan.disks
            .iter()
            .map(|d| (d.selector.as_str(), &d.verdict))
            .collect()
    }

    fn refusal(plan: &Plan, selector: &str) -> String {
        match &plan
            .disks
            .iter()
            .find(|d| d.selector == selector)
            .unwrap()
            .verdict
        {
            Verdict::Refused { reason } => reason.clone(),
            other => panic!("{selector}: {other:?}"),
        }
    }

    #[test]
    fn two_empty_disks_become_a_volume_group() {
        let plan = plan(
            &storage(CINDER),
            &seen(vec![empty("vdb", "cv1"), empty("vdc", "cv2")]),
        );
        assert_eq!(
            verdicts(&plan),
            [
                ("serial:cv1", &Verdict::Prepare { wipe: false }),
                ("serial:cv2", &Verdict::Prepare { wipe: false })
            ]
        );
        assert_eq!(
            plan.actions,
            [
                Action::PvCreate {
                    dev: "/dev/vdb".into()
                },
                Action::PvCreate {
                    dev: "/dev/vdc".into()
                },
                Action::VgCreate {
                    vg: "cinder-volumes-1".into(),
                    devs: vec!["/dev/vdb".into(), "/dev/vdc".into()]
                },
                Action::VgActivate {
                    vg: "cinder-volumes-1".into()
                },
            ]
        );
    }

    #[test]
    fn a_bare_filesystem_is_refused_and_the_group_made_of_the_rest() {
        let s = storage(
            "    lvm:\n      - name: cinder-volumes-1\n        devices: [serial:cv1, serial:cv2, serial:old]\n",
        );
        let mut old = empty("vdd", "old");
        old.signature = sig("ext4", Some("backup"), None);
        old.head_zero = false;
        let plan = plan(
            &s,
            &seen(vec![empty("vdb", "cv1"), empty("vdc", "cv2"), old]),
        );
        let why = refusal(&plan, "serial:old");
        assert!(
            why.contains("vdd holds data (a filesystem, ext4 (UUID 0b9c1b9e"),
            "{why}"
        );
        assert!(why.contains("give this disk `wipe: true`"), "{why}");
        assert!(plan.actions.iter().all(|a| a.dev() != Some("/dev/vdd")));
        assert!(plan.actions.contains(&Action::VgCreate {
            vg: "cinder-volumes-1".into(),
            devs: vec!["/dev/vdb".into(), "/dev/vdc".into()]
        }));
    }

    #[test]
    fn a_gpt_disk_with_data_is_refused_and_wiped_only_when_its_entry_says_so() {
        let mut gpt = empty("vdb", "cv1");
        gpt.partition_table = Some("gpt".into());
        gpt.partitions = vec!["vdb1".into(), "vdb2".into()];
        gpt.head_zero = false;
        gpt.tail_zero = false;
        let refused = plan(
            &storage(CINDER),
            &seen(vec![gpt.clone(), empty("vdc", "cv2")]),
        );
        let why = refusal(&refused, "serial:cv1");
        assert!(why.contains("a gpt partition table (vdb1, vdb2)"), "{why}");
        assert!(
            why.contains("data in its first MiB, data in its last MiB"),
            "{why}"
        );
        // The other disk's own `wipe` does not reach this one.
        let other_wiped = storage(
            "    lvm:\n      - name: cinder-volumes-1\n        devices: [serial:cv1, {device: serial:cv2, wipe: true}]\n",
        );
        let still = plan(&other_wiped, &seen(vec![gpt.clone(), empty("vdc", "cv2")]));
        assert!(refusal(&still, "serial:cv1").contains("holds data"));
        let wiped = storage(
            "    lvm:\n      - name: cinder-volumes-1\n        devices: [{device: serial:cv1, wipe: true}, serial:cv2]\n",
        );
        let plan = plan(&wiped, &seen(vec![gpt, empty("vdc", "cv2")]));
        assert_eq!(plan.disks[0].verdict, Verdict::Prepare { wipe: true });
        assert_eq!(
            plan.actions[0],
            Action::Wipe {
                dev: "/dev/vdb".into(),
                partitions: vec!["/dev/vdb1".into(), "/dev/vdb2".into()]
            }
        );
        assert_eq!(
            plan.actions[1],
            Action::PvCreate {
                dev: "/dev/vdb".into()
            }
        );
    }

    #[test]
    fn a_physical_volume_of_another_group_is_refused() {
        let mut pv = empty("vdb", "cv1");
        pv.signature = sig("LVM2_member", None, Some("vg-other"));
        let plan = plan(&storage(CINDER), &seen(vec![pv, empty("vdc", "cv2")]));
        let why = refusal(&plan, "serial:cv1");
        assert!(
            why.contains("an LVM physical volume of volume group `vg-other`"),
            "{why}"
        );
    }

    #[test]
    fn raid_members_and_luks_volumes_are_refused() {
        for kind in ["linux_raid_member", "crypto_LUKS"] {
            let mut d = empty("vdb", "cv1");
            d.signature = sig(kind, None, None);
            let plan = plan(&storage(CINDER), &seen(vec![d, empty("vdc", "cv2")]));
            let why = refusal(&plan, "serial:cv1");
            assert!(why.contains("holds data"), "{kind}: {why}");
        }
    }

    #[test]
    fn non_zero_first_or_last_mib_is_data() {
        for (head, tail) in [(false, true), (true, false)] {
            let mut d = empty("vdb", "lh0");
            d.head_zero = head;
            d.tail_zero = tail;
            let plan = plan(&storage(LONGHORN), &seen(vec![d]));
            assert!(refusal(&plan, "serial:lh0").contains("MiB"));
            assert!(plan.actions.is_empty());
        }
    }

    #[test]
    fn the_system_disk_is_never_a_target_even_with_wipe() {
        let mut sys = empty("vda", "boot");
        sys.system = true;
        let s = storage("    longhorn:\n      device: /dev/vda\n      wipe: true\n");
        let plan = plan(&s, &seen(vec![sys]));
        assert!(refusal(&plan, "/dev/vda").contains("system disk"));
        assert!(plan.actions.is_empty());
    }

    #[test]
    fn a_mounted_or_held_disk_is_refused_even_with_wipe() {
        let mut d = empty("vdb", "lh0");
        d.mounts = vec!["/mnt".into()];
        let s = storage("    longhorn:\n      device: serial:lh0\n      wipe: true\n");
        assert!(
            refusal(&plan(&s, &seen(vec![d.clone()])), "serial:lh0").contains("mounted at /mnt")
        );
        d.mounts.clear();
        d.holders = vec!["dm-0".into()];
        assert!(refusal(&plan(&s, &seen(vec![d])), "serial:lh0").contains("held by dm-0"));
    }

    #[test]
    fn a_disk_that_appears_late_is_missing_then_joins_the_group() {
        let first = plan(&storage(CINDER), &seen(vec![empty("vdb", "cv1")]));
        match &first.disks[1].verdict {
            Verdict::Missing { reason } => {
                assert!(reason.contains("no disk matches `serial:cv2`"), "{reason}");
                assert!(reason.contains("vdb (serial cv1"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert!(first.actions.contains(&Action::VgCreate {
            vg: "cinder-volumes-1".into(),
            devs: vec!["/dev/vdb".into()]
        }));
        // Next pass: vdb is now the group's, and the late disk extends it.
        let mut made = empty("vdb", "cv1");
        made.signature = sig("LVM2_member", None, Some("cinder-volumes-1"));
        let mut observed = seen(vec![made, empty("vdc", "cv2")]);
        observed.vgs = vec![VolumeGroup {
            name: "cinder-volumes-1".into(),
            size_bytes: 2 << 30,
            free_bytes: 2 << 30,
        }];
        let second = plan(&storage(CINDER), &observed);
        assert_eq!(second.disks[0].verdict, Verdict::Ours);
        assert_eq!(
            second.actions,
            [
                Action::PvCreate {
                    dev: "/dev/vdc".into()
                },
                Action::VgExtend {
                    vg: "cinder-volumes-1".into(),
                    devs: vec!["/dev/vdc".into()]
                },
                Action::VgActivate {
                    vg: "cinder-volumes-1".into()
                },
            ]
        );
    }

    #[test]
    fn a_second_run_finds_what_it_made_and_writes_nothing() {
        let mut a = empty("vdb", "cv1");
        let mut b = empty("vdc", "cv2");
        a.signature = sig("LVM2_member", None, Some("cinder-volumes-1"));
        b.signature = sig("LVM2_member", None, Some("cinder-volumes-1"));
        // LVM's own metadata is not zeros; holders are its active volumes.
        a.head_zero = false;
        a.holders = vec!["dm-0".into()];
        let mut lh = empty("vdd", "lh0");
        lh.signature = sig("ext4", Some(LONGHORN_LABEL), None);
        lh.head_zero = false;
        let s = storage(&format!("{LONGHORN}{CINDER}"));
        let observed = Observed {
            disks: vec![a, b, lh.clone()],
            vgs: vec![VolumeGroup {
                name: "cinder-volumes-1".into(),
                size_bytes: 8 << 30,
                free_bytes: 8 << 30,
            }],
            ..Observed::default()
        };
        let after_boot = plan(&s, &observed);
        assert!(after_boot.disks.iter().all(|d| d.verdict == Verdict::Ours));
        assert!(
            after_boot.actions.iter().all(|a| !a.writes_disk()),
            "{:?}",
            after_boot.actions
        );
        assert!(after_boot.actions.contains(&Action::Mount {
            dev: "/dev/vdd".into(),
            path: "/var/lib/longhorn".into(),
            filesystem: "ext4".into()
        }));
        // Once mounted, not even a mount.
        lh.mounts = vec!["/var/lib/longhorn".into()];
        let mut mounted = observed;
        mounted.disks[2] = lh;
        let again = plan(&s, &mounted);
        assert_eq!(
            again.actions,
            [Action::VgActivate {
                vg: "cinder-volumes-1".into()
            }]
        );
    }

    #[test]
    fn an_empty_longhorn_disk_is_formatted_labelled_and_mounted() {
        let s = storage(
            "    longhorn:\n      device: /dev/disk/by-id/virtio-lh0\n      filesystem: xfs\n",
        );
        let plan = plan(&s, &seen(vec![empty("vdb", "lh0")]));
        assert_eq!(
            plan.actions,
            [
                Action::Mkfs {
                    dev: "/dev/vdb".into(),
                    filesystem: "xfs".into(),
                    label: LONGHORN_LABEL.into()
                },
                mount("/dev/vdb", "/var/lib/longhorn", "xfs"),
            ]
        );
    }

    #[test]
    fn a_foreign_filesystem_on_the_longhorn_disk_is_refused_unless_wiped() {
        let mut d = empty("vdb", "lh0");
        d.signature = sig("ext4", Some("data"), None);
        assert!(
            refusal(
                &plan(&storage(LONGHORN), &seen(vec![d.clone()])),
                "serial:lh0"
            )
            .contains("a filesystem, ext4")
        );
        let wiped = storage("    longhorn:\n      device: serial:lh0\n      wipe: true\n");
        let plan = plan(&wiped, &seen(vec![d]));
        assert!(matches!(plan.actions[0], Action::Wipe { .. }));
        assert!(matches!(plan.actions[1], Action::Mkfs { .. }));
    }

    #[test]
    fn no_disks_at_all_means_every_entry_is_missing_and_nothing_is_done() {
        let plan = plan(
            &storage(&format!("{LONGHORN}{CINDER}")),
            &Observed::default(),
        );
        assert_eq!(plan.disks.len(), 3);
        assert!(
            plan.disks
                .iter()
                .all(|d| matches!(d.verdict, Verdict::Missing { .. }))
        );
        assert!(plan.actions.is_empty());
    }

    #[test]
    fn one_disk_named_twice_is_used_once() {
        let s = storage(
            "    longhorn:\n      device: /dev/vdb\n    lvm:\n      - name: vg\n        devices: [serial:cv1]\n",
        );
        let plan = plan(&s, &seen(vec![empty("vdb", "cv1")]));
        assert_eq!(plan.disks[0].verdict, Verdict::Prepare { wipe: false });
        assert!(refusal(&plan, "serial:cv1").contains("already used for longhorn"));
        assert!(
            plan.actions
                .iter()
                .all(|a| !matches!(a, Action::PvCreate { .. }))
        );
    }

    #[test]
    fn a_selector_matching_several_disks_is_refused() {
        let s = storage("    longhorn:\n      device: model:QEMU\n");
        let mut a = empty("vdb", "a");
        let mut b = empty("vdc", "b");
        a.model = Some("QEMU".into());
        b.model = Some("QEMU".into());
        let plan = plan(&s, &seen(vec![a, b]));
        assert!(refusal(&plan, "model:QEMU").contains("matches 2 disks"));
        assert!(plan.actions.is_empty());
    }
}
