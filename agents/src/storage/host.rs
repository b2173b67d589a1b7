//! What the host around the disks needs, decided from the config: kernel modules (Longhorn's
//! `dm_crypt`, iSCSI initiator and NFS client; the LIO target's modules; multipath), configfs for
//! the LIO target, and the text of `lvm.conf` and `multipath.conf`. Pure.

use plinth_config::MachineConfig;

/// Where LVM reads its configuration (containers that mount the host's /etc/lvm see it too).
pub const LVM_CONF: &str = "/etc/lvm/lvm.conf";
/// Where multipathd reads the operator's configuration.
pub const MULTIPATH_CONF: &str = "/etc/multipath.conf";
/// Where configfs is mounted for the LIO target.
pub const CONFIGFS: &str = "/sys/kernel/config";

/// The host's needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostNeeds {
    /// Modules to load, in order.
    pub modules: Vec<&'static str>,
    /// Mount configfs at [`CONFIGFS`].
    pub configfs: bool,
    /// The text of [`MULTIPATH_CONF`], when multipath is configured.
    pub multipath_conf: Option<String>,
}

/// What `config` needs of the host.
pub fn needs(config: &MachineConfig) -> HostNeeds {
    let storage = &config.plinth.storage;
    let roles = config.plinth.genestack.effective_roles();
    let mut modules = Vec::new();
    if !storage.lvm.is_empty() {
        modules.extend(["dm_mod", "dm_snapshot", "dm_thin_pool"]);
    }
    let longhorn = storage.longhorn.is_some()
        || roles.contains(&plinth_config::plinth::GenestackRole::Longhorn);
    if longhorn {
        // Longhorn's engine talks iSCSI to its own target; RWX volumes are NFS; encrypted
        // volumes are dm-crypt.
        modules.extend(["dm_crypt", "iscsi_tcp", "nfs", "nfsv4"]);
    }
    let target = storage.iscsi_target_wanted(&roles);
    if target {
        modules.extend([
            "configfs",
            "target_core_mod",
            "target_core_iblock",
            "iscsi_target_mod",
        ]);
    }
    if storage.multipath.is_some() {
        modules.push("dm_multipath");
    }
    let mut seen = std::collections::BTreeSet::new();
    modules.retain(|m| seen.insert(*m));
    HostNeeds {
        modules,
        configfs: target,
        multipath_conf: storage.multipath.as_ref().map(|m| {
            let mut text = m.config.clone();
            if !text.ends_with('\n') {
                text.push('\n');
            }
            text
        }),
    }
}

/// The LVM filter accepting only `disks` (kernel names) and rejecting everything else: the
/// system disk, device-mapper volumes (a guest's own PVs inside a Cinder volume), loop devices.
pub fn filter(disks: &[String]) -> String {
    let mut rules: Vec<String> = disks.iter().map(|d| format!("\"a|^/dev/{d}$|\"")).collect();
    rules.push("\"r|.*|\"".into());
    format!("[ {} ]", rules.join(", "))
}

/// `lvm.conf` for a node whose containers (cinder-volume, TopoLVM) also run LVM: only the
/// storage disks are scanned, no lvmetad, no udev synchronisation (LVM makes its own device
/// nodes, so no race with a udev that containers cannot reach), no dmeventd, no devices file.
pub fn lvm_conf(disks: &[String]) -> String {
    format!(
        "# Written by plinth-agent storage on every boot: edits here are replaced.\n\
         # Only the disks of plinth.storage are scanned; the system disk never is.\n\
         devices {{\n\
         \tglobal_filter = {}\n\
         \tobtain_device_list_from_udev = 0\n\
         \texternal_device_info_source = \"none\"\n\
         \tuse_devicesfile = 0\n\
         }}\n\
         activation {{\n\
         \tudev_sync = 0\n\
         \tudev_rules = 0\n\
         \tmonitoring = 0\n\
         }}\n\
         global {{\n\
         \tevent_activation = 0\n\
         }}\n",
        filter(disks)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(yaml: &str) -> MachineConfig {
        plinth_config::parse("t", &format!("#cloud-config\nplinth:\n{yaml}"))
            .unwrap()
            .config
    }

    #[test]
    fn longhorn_needs_dm_crypt_iscsi_and_nfs_but_no_target() {
        let n = needs(&config(
            "  storage:\n    longhorn:\n      device: serial:lh0\n",
        ));
        assert_eq!(n.modules, ["dm_crypt", "iscsi_tcp", "nfs", "nfsv4"]);
        assert!(!n.configfs);
        assert_eq!(n.multipath_conf, None);
    }

    #[test]
    fn a_cinder_node_gets_the_lio_target_and_multipath_when_asked() {
        let n = needs(&config(
            "  genestack:\n    roles: [storage]\n  storage:\n    lvm:\n      - name: cinder-volumes-1\n        devices: [serial:a]\n    multipath:\n      config: \"defaults {}\"\n",
        ));
        assert!(n.modules.contains(&"iscsi_target_mod"));
        assert!(n.modules.contains(&"dm_multipath"));
        assert!(!n.modules.contains(&"dm_crypt"));
        assert!(n.configfs);
        assert_eq!(n.multipath_conf.as_deref(), Some("defaults {}\n"));
        assert!(needs(&MachineConfig::default()).modules.is_empty());
    }

    #[test]
    fn lvm_scans_only_the_storage_disks() {
        let conf = lvm_conf(&["vdb".into(), "vdc".into()]);
        assert!(
            conf.contains("global_filter = [ \"a|^/dev/vdb$|\", \"a|^/dev/vdc$|\", \"r|.*|\" ]"),
            "{conf}"
        );
        assert!(conf.contains("udev_sync = 0"));
        assert_eq!(filter(&[]), "[ \"r|.*|\" ]");
    }
}
