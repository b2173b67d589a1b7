//! The lab seeds of `configs/examples/lab/` as the machines that boot them need them: each seed's
//! node name (meta-data's `local-hostname`), the MACs its `lab0` (the socket segment) and `mgmt0`
//! (the user network) NICs are matched by, its address on the segment, and its cluster role — read
//! from the seed itself, so the QEMU tests and `cargo xtask lab` start each NIC with the MAC its
//! config expects and nothing is written twice.

use std::path::{Path, PathBuf};

use plinth_config::MachineConfig;
use plinth_config::plinth::Role;

use crate::seed::{Seed, SeedError};

/// Guest memory of a lab VM in MiB: a control plane wants 2–3 GiB under TCG.
pub const MEMORY_MIB: u32 = 3072;
/// Virtual CPUs of a lab VM (with one, the control plane's processes restart under emulation).
pub const CPUS: u32 = 2;
/// A lab VM's state disk in MiB (etcd, containerd, the PKI).
pub const STATE_DISK_MIB: u64 = 4096;

/// `configs/examples/lab/`.
pub fn seeds_dir() -> PathBuf {
    crate::paths::workspace_root().join("configs/examples/lab")
}

/// Why a lab seed cannot be booted as a lab node.
#[derive(Debug, thiserror::Error)]
pub enum LabSeedError {
    #[error(transparent)]
    Seed(#[from] SeedError),
    #[error("{0}\nthe lab seed is not a valid config")]
    Config(String),
    #[error("{dir}: {what}")]
    Missing { dir: String, what: String },
}

/// One lab seed.
#[derive(Clone, Debug)]
pub struct LabSeed {
    /// The seed directory.
    pub dir: PathBuf,
    /// meta-data's `local-hostname`: the node's name.
    pub name: String,
    /// The seed's files, to write as a NoCloud volume.
    pub seed: Seed,
    /// The MAC `lab0` is matched by (the socket segment NIC).
    pub lab_mac: String,
    /// The MAC `mgmt0` is matched by (the user-network NIC carrying the forwards).
    pub mgmt_mac: String,
    /// `lab0`'s first address, with its prefix (`192.0.2.11/24`).
    pub address: String,
    /// `plinth.cluster.role`.
    pub role: Role,
}

impl LabSeed {
    /// Reads and validates the seed in `dir`.
    pub fn read(dir: &Path) -> Result<Self, LabSeedError> {
        let config = plinth_config::load_path(dir)
            .map_err(|d| LabSeedError::Config(d.to_string()))?
            .config;
        let seed = Seed::from_dir(dir)?;
        Self::of(dir, seed, &config)
    }

    /// The lab node that `seed` (in `dir`, its config `config`) describes.
    pub fn of(dir: &Path, seed: Seed, config: &MachineConfig) -> Result<Self, LabSeedError> {
        let missing = |what: String| LabSeedError::Missing {
            dir: dir.display().to_string(),
            what,
        };
        let name = seed
            .meta_data
            .lines()
            .find_map(|l| l.strip_prefix("local-hostname:"))
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .ok_or_else(|| missing("meta-data has no local-hostname".into()))?;
        let ethernet = |name: &str| config.network.as_ref().and_then(|n| n.ethernets.get(name));
        let mac = |name: &str| {
            ethernet(name)
                .and_then(|e| e.match_.as_ref())
                .and_then(|m| m.macaddress.clone())
                .ok_or_else(|| {
                    missing(format!(
                        "no ethernets.{name}.match.macaddress: the lab starts each NIC with that MAC"
                    ))
                })
        };
        Ok(Self {
            dir: dir.to_owned(),
            name,
            lab_mac: mac("lab0")?,
            mgmt_mac: mac("mgmt0")?,
            address: ethernet("lab0")
                .and_then(|e| e.addresses.first().cloned())
                .ok_or_else(|| missing("no address on ethernets.lab0".into()))?,
            role: config.plinth.cluster.role,
            seed,
        })
    }

    /// The segment address without its prefix (`192.0.2.11`).
    pub fn ip(&self) -> &str {
        self.address.split('/').next().unwrap_or_default()
    }

    /// Whether it makes the cluster (`role: init`); the others join it.
    pub fn init(&self) -> bool {
        self.role == Role::Init
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seeds_name_their_nodes_macs_addresses_and_roles() {
        let one = LabSeed::read(&seeds_dir().join("node1")).unwrap();
        assert_eq!(one.name, "node1");
        assert_eq!(one.lab_mac, "52:54:00:0c:00:11");
        assert_eq!(one.mgmt_mac, "52:54:00:0c:01:11");
        assert_eq!(one.address, "192.0.2.11/24");
        assert_eq!(one.ip(), "192.0.2.11");
        assert!(one.init());
        let two = LabSeed::read(&seeds_dir().join("node2")).unwrap();
        assert_eq!(two.role, Role::Server);
        let err = LabSeed::read(&seeds_dir()).unwrap_err().to_string();
        assert!(!err.is_empty());
    }
}
