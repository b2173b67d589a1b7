//! Plinth's own settings: everything under the `plinth:` key of the machine config. Unknown keys here
//! are errors (unlike cloud-init's top level), since nothing else reads them.

pub mod cluster;
pub mod disk;
pub mod exporters;
pub mod genestack;
pub mod install;
pub mod kernel;
pub mod kubernetes;
pub mod ovn;
pub mod ovn_serde;
pub mod ovs;
pub mod services;
pub mod storage;
pub mod supervisor;
pub mod time;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use cluster::{Cluster, ClusterCa, Etcd, Role, Written};
pub use disk::DiskSelector;
pub use exporters::{Exporters, NodeExporter};
pub use genestack::{Genestack, GenestackRole};
pub use install::Install;
pub use kernel::{HugepageSize, Hugepages, Kernel, SysctlValue};
pub use kubernetes::{Cni, ExtraArgs, Kubernetes, ProxyMode};
pub use ovn::{Ovn, OvnBond, OvnPort, OvnVlan, OvsClaim, OvsInterface};
pub use ovs::{Ovs, OvsMode};
pub use services::{Ready, Restart, Service};
pub use storage::{
    Filesystem, Longhorn, Multipath, PhysicalVolume, PhysicalVolumeEntry, Storage, VolumeGroup,
};
pub use supervisor::Supervisor;
pub use time::Time;

/// The `plinth:` section.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Plinth {
    /// Cluster membership: role, join endpoint and secrets, etcd, Kubernetes. A node with this
    /// section (even `cluster: {}`) is a cluster node.
    #[serde(default, skip_serializing_if = "Cluster::is_unset")]
    pub cluster: Cluster,
    /// Genestack roles, which become node labels and annotations.
    #[serde(default)]
    pub genestack: Genestack,
    /// Disks the node prepares (the Longhorn disk, LVM volume groups), the iSCSI target and
    /// multipath. A disk that holds data is refused unless its entry says `wipe: true`.
    #[serde(default)]
    pub storage: Storage,
    /// Open vSwitch mode and host bridges.
    #[serde(default)]
    pub ovs: Ovs,
    /// Extra kernel modules and sysctls on top of the Genestack defaults; kernel arguments and
    /// hugepages for the BIOS and PXE boots; the nested virtualization a compute node expects.
    #[serde(default)]
    pub kernel: Kernel,
    /// Time sync.
    #[serde(default)]
    pub time: Time,
    /// Metrics exporters.
    #[serde(default)]
    pub exporters: Exporters,
    /// The user's own services, supervised like the built-in ones.
    #[serde(default)]
    pub services: Vec<Service>,
    /// What PID 1 does when its service supervisor fails.
    #[serde(default, skip_serializing_if = "Supervisor::is_unset")]
    pub supervisor: Supervisor,
    /// Install to a disk (when booted from USB/PXE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install: Option<Install>,
}
