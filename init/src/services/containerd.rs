//! The container runtime of a cluster node: Debian's `containerd` with the image's config
//! (`/usr/lib/plinth/containerd/config.toml`: cgroupfs, no registry, Debian's CNI plugins), ready
//! once its socket accepts connections; then `containerd-images`, a oneshot that imports the images
//! the image carries (the pause image that `sandbox_image` names) into the CRI's `k8s.io`
//! namespace, so a pod's sandbox never needs a pull. Importing again is cheap and changes nothing,
//! so it runs on every boot and picks up an image update's new pause image.
//!
//! Planned on nodes whose config has a `plinth.cluster`; `runc` and the shim come from Debian too.

use plinth_config::MachineConfig;

use super::builtin::{daemon, oneshot};
use super::facts::Facts;
use crate::supervisor::spec::{Probe, ServiceSpec};

/// The daemon.
pub const CONTAINERD: &str = "/usr/bin/containerd";
/// containerd's own client, which imports the images.
pub const CTR: &str = "/usr/bin/ctr";
/// The config the image ships.
pub const CONFIG: &str = "/usr/lib/plinth/containerd/config.toml";
/// containerd's API socket (the CRI endpoint of the kubelet).
pub const SOCKET: &str = "/run/containerd/containerd.sock";
/// The pause image's OCI archive, made by `cargo xtask image`.
pub const PAUSE_ARCHIVE: &str = "/usr/lib/plinth/images/pause.tar";
/// The service name.
pub const NAME: &str = "containerd";
/// The oneshot that imports the image's images.
pub const IMAGES: &str = "containerd-images";

/// containerd and the image import, on cluster nodes.
pub fn plan(config: &MachineConfig, _: &Facts) -> Vec<ServiceSpec> {
    if !config.plinth.cluster.is_set() {
        return Vec::new();
    }
    vec![
        daemon(
            NAME,
            &[CONTAINERD, "--config", CONFIG],
            Probe::Unix(SOCKET.into()),
            &[],
        ),
        oneshot(
            IMAGES,
            &[
                CTR,
                "--address",
                SOCKET,
                "--namespace",
                "k8s.io",
                "images",
                "import",
                PAUSE_ARCHIVE,
            ],
            &[NAME],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_node_runs_containerd_then_imports_the_pause_image() {
        let config = crate::test_config::config("plinth:\n  cluster:\n    role: init\n");
        let specs = plan(&config, &Facts::default());
        let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["containerd", "containerd-images"]);
        assert_eq!(specs[0].exec, [CONTAINERD, "--config", CONFIG]);
        assert_eq!(specs[0].probe, Probe::Unix(SOCKET.into()));
        assert!(specs[1].oneshot);
        assert_eq!(specs[1].after, ["containerd"]);
        assert!(
            specs[1]
                .exec
                .windows(2)
                .any(|w| w == ["--namespace", "k8s.io"])
        );
        assert_eq!(
            specs[1].exec.last().map(String::as_str),
            Some(PAUSE_ARCHIVE)
        );
    }

    #[test]
    fn a_node_without_a_cluster_runs_no_container_runtime() {
        assert!(plan(&MachineConfig::default(), &Facts::default()).is_empty());
    }
}
