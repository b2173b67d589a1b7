//! The kernel and host contract of a Genestack node (GENESTACK.md): the kernel modules, the
//! sysctls, group `kvm` (GID 929292) with its `/dev/kvm` udev rule, the writable host paths the
//! Genestack DaemonSets mount, and the chrony config of the `time` phase. Each file pairs a pure
//! planner (config → what to load or write) with the effect applied under a root directory, so
//! tests run the effects on temp dirs.
//!
//! The boot calls these from the `kernel` and `time` phases; nothing here runs in `--container`
//! mode.

pub mod chrony;
pub mod kvm;
pub mod modules;
pub mod paths;
pub mod sysctl;
