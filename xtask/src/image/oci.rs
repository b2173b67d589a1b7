//! The local pause image: the `pause` program (crate `plinth-pause`) as a one-layer OCI image
//! archive, `/usr/lib/plinth/images/pause.tar` in the root, which the node imports into
//! containerd's `k8s.io` namespace at boot. Its name, [`PAUSE_IMAGE`], is exactly containerd's
//! `sandbox_image` (`image/mkosi.extra/usr/lib/plinth/containerd/config.toml`), so the CRI finds it
//! locally and never tries to pull it.
//!
//! The archive is an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/…`) as
//! `ctr images import` reads it; the index names the image with the `io.containerd.image.name`
//! annotation. It is byte-for-byte reproducible: fixed times, owners and order.

use anyhow::Result;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::inputs::hex;

/// The sandbox image's full name, as the CRI normalises it.
pub const PAUSE_IMAGE: &str = "localhost/plinth/pause:1";

/// Where the archive lives in the root.
pub const PAUSE_ARCHIVE: &str = "usr/lib/plinth/images/pause.tar";

/// The user the pause process runs as (upstream's image uses the same).
const USER: &str = "65535:65535";

/// An OCI image archive named `name` whose single layer holds `binary` as `/pause`, its entry point.
pub fn pause_archive(name: &str, binary: &[u8]) -> Result<Vec<u8>> {
    let layer = tar_of(&[("pause", 0o755, binary)])?;
    let layer_digest = digest(&layer);
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Entrypoint": ["/pause"], "User": USER},
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        "history": [{"created_by": "cargo xtask image: the plinth-pause program"}],
    }))?;
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": digest(&config),
            "size": config.len(),
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": layer_digest,
            "size": layer.len(),
        }],
    }))?;
    let tag = name.rsplit_once(':').map_or("latest", |(_, tag)| tag);
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest(&manifest),
            "size": manifest.len(),
            "platform": {"architecture": "amd64", "os": "linux"},
            "annotations": {
                "io.containerd.image.name": name,
                "org.opencontainers.image.ref.name": tag,
            },
        }],
    }))?;
    let layout = br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec();
    let blob = |bytes: &[u8]| format!("blobs/sha256/{}", &digest(bytes)["sha256:".len()..]);
    let (config_path, manifest_path, layer_path) = (blob(&config), blob(&manifest), blob(&layer));
    tar_of(&[
        ("oci-layout", 0o644, &layout),
        ("index.json", 0o644, &index),
        (&config_path, 0o644, &config),
        (&manifest_path, 0o644, &manifest),
        (&layer_path, 0o644, &layer),
    ])
}

/// `sha256:<hex>` of `bytes`.
fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

/// A tar of regular files `(path, mode, contents)` owned by root, dated 0; parent directories
/// are implied, as OCI layouts allow.
fn tar_of(files: &[(&str, u32, &[u8])]) -> Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.mode(tar::HeaderMode::Deterministic);
    for (path, mode, contents) in files {
        let mut header = tar::Header::new_ustar();
        header.set_size(contents.len() as u64);
        header.set_mode(*mode);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, path, *contents)?;
    }
    Ok(builder.into_inner()?)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::io::Read;

    use super::*;

    fn entries(archive: &[u8]) -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        let mut reader = tar::Archive::new(archive);
        for entry in reader.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().to_string_lossy().into_owned();
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            out.insert(path, bytes);
        }
        out
    }

    fn json_of(bytes: &[u8]) -> serde_json::Value {
        serde_json::from_slice(bytes).unwrap()
    }

    #[test]
    fn the_index_names_the_image_and_every_digest_matches_its_blob() {
        let archive = pause_archive(PAUSE_IMAGE, b"\x7fELF pretend").unwrap();
        let files = entries(&archive);
        let blob = |d: &serde_json::Value| {
            let hex = d.as_str().unwrap().strip_prefix("sha256:").unwrap();
            let bytes = files[&format!("blobs/sha256/{hex}")].clone();
            assert_eq!(digest(&bytes), d.as_str().unwrap(), "digest of {hex}");
            bytes
        };
        assert_eq!(json_of(&files["oci-layout"])["imageLayoutVersion"], "1.0.0");
        let index = json_of(&files["index.json"]);
        let entry = &index["manifests"][0];
        assert_eq!(
            entry["annotations"]["io.containerd.image.name"],
            PAUSE_IMAGE
        );
        assert_eq!(
            entry["annotations"]["org.opencontainers.image.ref.name"],
            "1"
        );
        let manifest = json_of(&blob(&entry["digest"]));
        let config = json_of(&blob(&manifest["config"]["digest"]));
        assert_eq!(config["config"]["Entrypoint"][0], "/pause");
        assert_eq!(config["config"]["User"], USER);
        let layer = blob(&manifest["layers"][0]["digest"]);
        // Uncompressed layer: its digest is its diff_id.
        assert_eq!(
            config["rootfs"]["diff_ids"][0],
            manifest["layers"][0]["digest"]
        );
        assert_eq!(entries(&layer)["pause"], b"\x7fELF pretend");
    }

    #[test]
    fn the_archive_is_reproducible() {
        let a = pause_archive(PAUSE_IMAGE, b"x").unwrap();
        assert_eq!(a, pause_archive(PAUSE_IMAGE, b"x").unwrap());
        assert_ne!(a, pause_archive(PAUSE_IMAGE, b"y").unwrap());
    }

    #[test]
    fn containerd_is_configured_with_this_sandbox_image() {
        let config =
            include_str!("../../../image/mkosi.extra/usr/lib/plinth/containerd/config.toml");
        let line = config
            .lines()
            .find(|l| l.trim_start().starts_with("sandbox_image"))
            .expect("config.toml sets sandbox_image");
        assert_eq!(line.split('"').nth(1), Some(PAUSE_IMAGE), "{line}");
    }
}
