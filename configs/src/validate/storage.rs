//! Storage: disk selectors that parse, each used once, sane names, the Longhorn-with-LVM/iSCSI
//! warning from Genestack, and a multipath config that is not empty.

use std::collections::BTreeMap;

use super::{Finding, root};
use crate::config::MachineConfig;
use crate::plinth::{DiskSelector, GenestackRole};
use crate::yaml::KeyPath;

pub(super) fn check(config: &MachineConfig, out: &mut Vec<Finding>) {
    let storage = &config.plinth.storage;
    let path = root("plinth").key("storage");
    let mut seen: BTreeMap<String, KeyPath> = BTreeMap::new();
    let mut claim = |device: &str, at: KeyPath, out: &mut Vec<Finding>| {
        if let Err(e) = DiskSelector::parse(device) {
            out.push(Finding::error(at.clone(), e.to_string()));
        }
        if let Some(first) = seen.get(device) {
            out.push(Finding::error(at, format!("device `{device}` is already used at {first}: a device can back only one storage entry")));
        } else {
            seen.insert(device.to_owned(), at);
        }
    };
    if let Some(longhorn) = &storage.longhorn {
        claim(&longhorn.device, path.key("longhorn").key("device"), out);
        if !longhorn.path.starts_with('/') {
            out.push(Finding::error(
                path.key("longhorn").key("path"),
                format!("`{}` must be an absolute path", longhorn.path),
            ));
        }
    }
    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, vg) in storage.lvm.iter().enumerate() {
        let vg_path = path.key("lvm").index(i);
        let valid = !vg.name.is_empty()
            && vg.name.len() <= 127
            && !vg.name.starts_with('-')
            && vg
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'));
        if !valid {
            out.push(Finding::error(
                vg_path.key("name"),
                format!(
                    "`{}` is not a volume group name (letters, digits, . _ - +)",
                    vg.name
                ),
            ));
        }
        if let Some(first) = names.insert(&vg.name, i) {
            out.push(Finding::error(
                vg_path.key("name"),
                format!(
                    "volume group `{}` is already defined at plinth.storage.lvm[{first}]",
                    vg.name
                ),
            ));
        }
        if vg.devices.is_empty() {
            out.push(Finding::error(
                vg_path.key("devices"),
                "a volume group needs at least one device",
            ));
        }
        for (j, pv) in vg.devices.iter().enumerate() {
            let at = match pv {
                crate::plinth::PhysicalVolume::Disk(_) => vg_path.key("devices").index(j),
                crate::plinth::PhysicalVolume::Entry(_) => {
                    vg_path.key("devices").index(j).key("device")
                }
            };
            claim(pv.device(), at, out);
        }
    }
    if storage.longhorn.is_some() && !storage.lvm.is_empty() {
        out.push(Finding::warning(
            path.key("lvm"),
            "LVM volume groups on a Longhorn node: Genestack advises against co-locating Cinder LVM/iSCSI with Longhorn (both use the kernel iSCSI stack)",
        ));
    }
    let roles = config.plinth.genestack.effective_roles();
    let longhorn_node = storage.longhorn.is_some() || roles.contains(&GenestackRole::Longhorn);
    if longhorn_node && storage.iscsi_target_wanted(&roles) && storage.lvm.is_empty() {
        out.push(Finding::warning(
            path.key("iscsi_target"),
            "an iSCSI target on a Longhorn node: Genestack advises against co-locating Cinder LVM/iSCSI with Longhorn (both use the kernel iSCSI stack)",
        ));
    }
    if let Some(multipath) = &storage.multipath
        && multipath.config.trim().is_empty()
    {
        out.push(Finding::error(
            path.key("multipath").key("config"),
            "an empty multipath.conf: give the operator's configuration (multipathd needs at least `defaults {}`)",
        ));
    }
    if let Some(install) = config
        .plinth
        .install
        .as_ref()
        .and_then(|i| i.path.as_deref())
        && let Some(at) = seen.get(install)
    {
        out.push(Finding::error(
            root("plinth").key("install").key("path"),
            format!("the install disk `{install}` is also used for storage at {at}"),
        ));
    }
}
