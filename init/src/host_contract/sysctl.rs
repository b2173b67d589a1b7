//! Sysctls: the effective set (Genestack defaults plus the config, keys switched off dropped; see
//! `plinth_config::kernel::sysctls`) written to `/proc/sys`, one file per key. A key that cannot be
//! written (no such key on this kernel, a value it refuses) is a warning naming the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The file of `key` under a `/proc/sys` directory: dots separate directories (`net.ipv4.ip_forward`
/// is `net/ipv4/ip_forward`). Keys already written with slashes are taken as they are.
pub fn path_of(proc_sys: &Path, key: &str) -> PathBuf {
    let relative = if key.contains('/') {
        key.to_string()
    } else {
        key.replace('.', "/")
    };
    proc_sys.join(relative.trim_start_matches('/'))
}

/// What applying the sysctls did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// Keys written.
    pub written: usize,
    /// One line per key that could not be written, naming it.
    pub warnings: Vec<String>,
}

/// Writes every `key = value` of `sysctls` under `proc_sys`.
pub fn apply(proc_sys: &Path, sysctls: &BTreeMap<String, String>) -> Applied {
    let mut out = Applied::default();
    for (key, value) in sysctls {
        let path = path_of(proc_sys, key);
        if !path.is_file() {
            out.warnings.push(format!(
                "sysctl {key}: not on this kernel ({})",
                path.display()
            ));
            continue;
        }
        match std::fs::write(&path, format!("{value}\n")) {
            Ok(()) => out.written += 1,
            Err(e) => out
                .warnings
                .push(format!("sysctl {key}={value}: cannot write: {e}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_proc_sys_files() {
        let root = Path::new("/proc/sys");
        assert_eq!(
            path_of(root, "net.ipv4.ip_forward"),
            Path::new("/proc/sys/net/ipv4/ip_forward")
        );
        assert_eq!(
            path_of(root, "net/ipv4/conf/eth0.100/rp_filter"),
            Path::new("/proc/sys/net/ipv4/conf/eth0.100/rp_filter")
        );
    }

    #[test]
    fn writes_existing_keys_and_names_the_missing_ones() {
        let dir = std::env::temp_dir().join(format!("plinth-sysctl-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("vm")).unwrap();
        std::fs::write(dir.join("vm/swappiness"), "60\n").unwrap();
        let sysctls = BTreeMap::from([
            ("vm.swappiness".to_string(), "5".to_string()),
            (
                "net.netfilter.nf_conntrack_max".to_string(),
                "1048576".to_string(),
            ),
        ]);
        let applied = apply(&dir, &sysctls);
        assert_eq!(applied.written, 1);
        assert_eq!(
            std::fs::read_to_string(dir.join("vm/swappiness")).unwrap(),
            "5\n"
        );
        assert_eq!(applied.warnings.len(), 1);
        assert!(
            applied.warnings[0].starts_with("sysctl net.netfilter.nf_conntrack_max:"),
            "{:?}",
            applied.warnings
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
