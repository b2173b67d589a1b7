//! cloud-init's per-instance semantics: the instance-id (meta-data `instance-id`, else a hash of the
//! config) is recorded on the state partition at `/var/lib/plinth/instance-id`; a different id than
//! the recorded one means "first boot of this instance", so users, write_files and runcmd run again.

use std::io;
use std::path::{Path, PathBuf};

use plinth_config::MachineConfig;

/// Where the id of the instance last set up (users, write_files) is kept, below the root.
pub const RECORD: &str = "var/lib/plinth/instance-id";
/// Where the id of the instance whose runcmd last ran is kept, below the root.
pub const RUNCMD_RECORD: &str = "var/lib/plinth/runcmd-instance-id";

/// The instance-id a config source gives: a NoCloud seed's `meta-data` `instance-id`, a config
/// drive's `meta_data.json` `uuid`, or, for the copy persisted on the state partition, the id
/// recorded next to it (that copy is the config of the instance last set up).
pub fn of_source(path: &Path) -> Option<String> {
    use plinth_config::sources::{config_drive, nocloud};
    if path.is_file() {
        let recorded = path.with_file_name("instance-id");
        return std::fs::read_to_string(recorded)
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
    }
    if let Ok(text) = std::fs::read_to_string(path.join("meta-data")) {
        return nocloud::parse_meta_data("meta-data", &text)
            .ok()
            .and_then(|m| m.instance_id);
    }
    let json =
        std::fs::read_to_string(path.join(config_drive::LATEST).join("meta_data.json")).ok()?;
    let meta: serde_json::Value = serde_json::from_str(&json).ok()?;
    meta.get("uuid")?.as_str().map(str::to_owned)
}

/// The instance-id: the source's own when it has one, else `iid-config-<hash of the config>`.
pub fn id_of(meta_instance_id: Option<&str>, config: &MachineConfig) -> String {
    match meta_instance_id.map(str::trim).filter(|i| !i.is_empty()) {
        Some(id) => id.to_owned(),
        None => format!(
            "iid-config-{:016x}",
            fnv1a(config.to_user_data().as_bytes())
        ),
    }
}

/// FNV-1a 64: a stable, dependency-free fingerprint (not a security hash; it only tells configs
/// apart).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Whether per-instance steps run: the id differs from the recorded one (or none is recorded).
pub fn is_new(recorded: Option<&str>, current: &str) -> bool {
    recorded.map(str::trim) != Some(current)
}

/// The path of `record` ([`RECORD`] or [`RUNCMD_RECORD`]) under `root`.
pub fn record_path(root: &Path, record: &str) -> PathBuf {
    root.join(record)
}

/// The id in `record` under `root`, if any.
pub fn recorded(root: &Path, record: &str) -> Option<String> {
    std::fs::read_to_string(record_path(root, record))
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// Writes `id` to `record` under `root`.
pub fn record(root: &Path, record: &str, id: &str) -> io::Result<()> {
    let path = record_path(root, record);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    super::fsutil::replace(&path, format!("{id}\n").as_bytes(), 0o644)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_data_id_wins_else_the_config_hash_which_follows_the_config() {
        let a = MachineConfig::default();
        let mut b = MachineConfig::default();
        b.runcmd
            .push(plinth_config::cloud_init::Command::Shell("echo hi".into()));
        assert_eq!(id_of(Some(" iid-7 "), &a), "iid-7");
        assert_eq!(id_of(None, &a), id_of(None, &a.clone()));
        assert_ne!(id_of(None, &a), id_of(None, &b));
        assert!(id_of(Some(""), &a).starts_with("iid-config-"));
    }

    #[test]
    fn a_new_id_runs_per_instance_steps_the_same_does_not() {
        assert!(is_new(None, "i-1"));
        assert!(is_new(Some("i-0"), "i-1"));
        assert!(!is_new(Some("i-1\n"), "i-1"));
    }

    #[test]
    fn the_record_round_trips_under_a_root() {
        let dir = std::env::temp_dir().join(format!("plinth-iid-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(recorded(&dir, RECORD), None);
        record(&dir, RECORD, "i-9").unwrap();
        assert_eq!(recorded(&dir, RECORD).as_deref(), Some("i-9"));
        assert_eq!(recorded(&dir, RUNCMD_RECORD), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn sources_give_their_ids() {
        let dir = std::env::temp_dir().join(format!("plinth-iid-src-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let seed = dir.join("cidata");
        std::fs::create_dir_all(&seed).unwrap();
        std::fs::write(
            seed.join("meta-data"),
            "instance-id: iid-seed\nlocal-hostname: n\n",
        )
        .unwrap();
        assert_eq!(of_source(&seed).as_deref(), Some("iid-seed"));
        let drive = dir.join("config-2");
        std::fs::create_dir_all(drive.join("openstack/latest")).unwrap();
        std::fs::write(
            drive.join("openstack/latest/meta_data.json"),
            r#"{"uuid": "83679162-1378-4288-a2d4-70e13ec132aa"}"#,
        )
        .unwrap();
        assert_eq!(
            of_source(&drive).as_deref(),
            Some("83679162-1378-4288-a2d4-70e13ec132aa")
        );
        let state = dir.join("state");
        std::fs::create_dir_all(&state).unwrap();
        std::fs::write(state.join("config.yaml"), "#cloud-config\n").unwrap();
        assert_eq!(of_source(&state.join("config.yaml")), None);
        std::fs::write(state.join("instance-id"), "iid-seed\n").unwrap();
        assert_eq!(
            of_source(&state.join("config.yaml")).as_deref(),
            Some("iid-seed")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
