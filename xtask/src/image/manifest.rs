//! `manifest.json`: what one image build produced — every artifact with its size and sha256,
//! the sizes that matter (root squashfs, initramfs, UKI), the kernel and its command line, the
//! package versions of the Debian tree (from mkosi's manifest), the Kubernetes build with the
//! container runtime it runs on, and the embedded config.

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::cmd;

/// One output file, relative to the output directory.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

/// sha256 of a file through `sha256sum` (fast even when the xtask is a debug build).
pub fn sha256_file(path: &Path) -> Result<String> {
    let out = cmd::output(&mut cmd::cmd("sha256sum", [path]))?;
    Ok(out
        .split_whitespace()
        .next()
        .context("sha256sum printed nothing")?
        .to_string())
}

/// Size and sha256 of `dir/rel`.
pub fn artifact(dir: &Path, rel: &str) -> Result<Artifact> {
    let path = dir.join(rel);
    Ok(Artifact {
        path: rel.to_string(),
        size: std::fs::metadata(&path)
            .with_context(|| format!("{}", path.display()))?
            .len(),
        sha256: sha256_file(&path)?,
    })
}

/// `[{name, version}]` from mkosi's JSON manifest.
pub fn packages(mkosi_manifest: &str) -> Result<Vec<(String, String)>> {
    let v: Value = serde_json::from_str(mkosi_manifest).context("parsing mkosi's manifest")?;
    let mut out: Vec<(String, String)> = v["packages"]
        .as_array()
        .context("mkosi's manifest has no packages list")?
        .iter()
        .filter_map(|p| {
            Some((
                p["name"].as_str()?.to_string(),
                p["version"].as_str()?.to_string(),
            ))
        })
        .collect();
    out.sort();
    Ok(out)
}

/// Everything the manifest records.
pub struct Manifest<'a> {
    pub build: &'a str,
    pub kernel_release: &'a str,
    pub cmdline: &'a str,
    pub artifacts: &'a [Artifact],
    pub root_squashfs: u64,
    pub initrd: u64,
    pub uki: u64,
    pub packages: &'a [(String, String)],
    pub config_source: &'a str,
    pub config_sha256: &'a str,
    pub config: &'a str,
    pub tree_reused: bool,
    pub kubernetes: &'a super::kubernetes::Kubernetes,
}

impl Manifest<'_> {
    /// The version of Debian package `name` in the tree, if it is there.
    fn package(&self, name: &str) -> Option<&str> {
        self.packages
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn to_json(&self) -> Value {
        json!({
            "plinth_version": env!("CARGO_PKG_VERSION"),
            "build": self.build,
            "kernel_release": self.kernel_release,
            "cmdline": self.cmdline.trim(),
            "sizes": {
                "root_squashfs": self.root_squashfs,
                "initrd": self.initrd,
                "uki": self.uki,
            },
            "artifacts": self.artifacts.iter().map(|a| json!({
                "path": a.path, "size": a.size, "sha256": a.sha256,
            })).collect::<Vec<_>>(),
            "packages": self.packages.iter().map(|(n, v)| json!({"name": n, "version": v})).collect::<Vec<_>>(),
            "config": {
                "source": self.config_source,
                "embedded_at": format!("/{}", super::rootfs::DEFAULT_CONFIG),
                "sha256": self.config_sha256,
                "content": self.config,
            },
            "kubernetes": {
                "version": self.kubernetes.version,
                "go": self.kubernetes.go_version,
                "binary": "/usr/bin/kubernetes",
                "components": super::kubernetes::COMPONENTS,
                "size": self.kubernetes.size,
                "sha256": self.kubernetes.sha256,
                "sandbox_image": super::oci::PAUSE_IMAGE,
                "containerd": self.package("containerd"),
                "runc": self.package("runc"),
                "cni_plugins": self.package("containernetworking-plugins"),
            },
            "tree_reused": self.tree_reused,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_package_versions_from_mkosi_manifest() {
        let text = r#"{"manifest_version":1,"packages":[
            {"type":"deb","name":"udev","version":"257.9-1","architecture":"amd64"},
            {"type":"deb","name":"chrony","version":"4.6.1-3","architecture":"amd64"}]}"#;
        assert_eq!(
            packages(text).unwrap(),
            [
                ("chrony".to_string(), "4.6.1-3".to_string()),
                ("udev".to_string(), "257.9-1".to_string())
            ]
        );
        assert!(packages("{}").is_err());
    }

    #[test]
    fn json_carries_sizes_artifacts_and_config() {
        let artifacts = [Artifact {
            path: "disk.raw".into(),
            size: 5,
            sha256: "ab".into(),
        }];
        let m = Manifest {
            build: "dev",
            kernel_release: "6.12",
            cmdline: "console=ttyS0\n",
            artifacts: &artifacts,
            root_squashfs: 1,
            initrd: 2,
            uki: 3,
            packages: &[("containerd".into(), "1.7.24~ds1-6".into())],
            config_source: "configs/examples/single-node.yaml",
            config_sha256: "cd",
            config: "#cloud-config\n",
            tree_reused: true,
            kubernetes: &super::super::kubernetes::Kubernetes {
                binary: "/cache/kubernetes".into(),
                version: "v1.35.4".into(),
                go_version: "go1.26.8".into(),
                size: 7,
                sha256: "ef".into(),
            },
        }
        .to_json();
        assert_eq!(m["kubernetes"]["version"], "v1.35.4");
        assert_eq!(m["kubernetes"]["containerd"], "1.7.24~ds1-6");
        assert_eq!(m["kubernetes"]["runc"], serde_json::Value::Null);
        assert_eq!(m["kubernetes"]["components"][3], "kubelet");
        assert_eq!(m["sizes"]["root_squashfs"], 1);
        assert_eq!(m["artifacts"][0]["path"], "disk.raw");
        assert_eq!(m["cmdline"], "console=ttyS0");
        assert_eq!(
            m["config"]["embedded_at"],
            "/usr/lib/plinth/default-config.yaml"
        );
    }
}
