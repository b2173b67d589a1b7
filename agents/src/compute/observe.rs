//! What the machine says, read from sysfs and /proc below a root (`/` on a node, a temporary tree
//! in tests): KVM's `nested` parameter, the hugepages reserved of each size, the IOMMU groups and
//! the kernel command line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::cmdline;

/// The KVM modules whose `nested` parameter is read, in order.
pub const KVM_MODULES: [&str; 2] = ["kvm_intel", "kvm_amd"];

/// sysfs and /proc as read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sysfs {
    /// `(module, on)` of the loaded KVM module's `nested` parameter; `None` when neither is loaded.
    pub nested: Option<(String, bool)>,
    /// Page size in KiB → pages reserved (`nr_hugepages`).
    pub hugepages: BTreeMap<u64, u64>,
    /// How many IOMMU groups the kernel made.
    pub iommu_groups: usize,
    /// The kernel command line's words.
    pub cmdline: Vec<String>,
}

/// `Y`/`1` or `N`/`0`, as KVM's modules print the boolean (kvm_amd printed an int before 5.x).
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim() {
        "Y" | "y" | "1" => Some(true),
        "N" | "n" | "0" => Some(false),
        _ => None,
    }
}

/// The size in KiB of a `hugepages-<N>kB` directory.
pub fn hugepage_dir_kib(name: &str) -> Option<u64> {
    name.strip_prefix("hugepages-")?
        .strip_suffix("kB")?
        .parse()
        .ok()
}

fn below(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_start_matches('/'))
}

/// Reads the machine below `root`; what is missing reads as absent (no module, no hugepages).
pub fn read(root: &Path) -> Sysfs {
    let nested = KVM_MODULES.iter().find_map(|m| {
        let text =
            std::fs::read_to_string(below(root, &format!("/sys/module/{m}/parameters/nested")))
                .ok()?;
        Some(((*m).to_owned(), parse_bool(&text)?))
    });
    let mut hugepages = BTreeMap::new();
    if let Ok(dir) = std::fs::read_dir(below(root, "/sys/kernel/mm/hugepages")) {
        for entry in dir.flatten() {
            let Some(kib) = entry.file_name().to_str().and_then(hugepage_dir_kib) else {
                continue;
            };
            let nr = std::fs::read_to_string(entry.path().join("nr_hugepages"))
                .ok()
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or(0);
            hugepages.insert(kib, nr);
        }
    }
    let iommu_groups = std::fs::read_dir(below(root, "/sys/kernel/iommu_groups"))
        .map(|d| d.flatten().count())
        .unwrap_or(0);
    let cmdline = std::fs::read_to_string(below(root, "/proc/cmdline"))
        .map(|t| cmdline::parse(&t))
        .unwrap_or_default();
    Sysfs {
        nested,
        hugepages,
        iommu_groups,
        cmdline,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, path: &str, text: &str) {
        let p = below(root, path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn tempdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("plinth-compute-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_compute_hosts_tree_reads_back() {
        let root = tempdir("tree");
        write(&root, "/sys/module/kvm_amd/parameters/nested", "1\n");
        write(
            &root,
            "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages",
            "512\n",
        );
        write(
            &root,
            "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages",
            "4\n",
        );
        write(
            &root,
            "/sys/kernel/mm/hugepages/not-a-size/nr_hugepages",
            "9\n",
        );
        for g in ["0", "1", "2"] {
            std::fs::create_dir_all(below(&root, &format!("/sys/kernel/iommu_groups/{g}")))
                .unwrap();
        }
        write(&root, "/proc/cmdline", "console=ttyS0 amd_iommu=on\n");
        let s = read(&root);
        assert_eq!(s.nested, Some(("kvm_amd".into(), true)));
        assert_eq!(s.hugepages, BTreeMap::from([(2048, 512), (1_048_576, 4)]));
        assert_eq!(s.iommu_groups, 3);
        assert_eq!(s.cmdline, ["console=ttyS0", "amd_iommu=on"]);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn an_empty_tree_has_no_kvm_module_hugepages_or_groups() {
        let root = tempdir("empty");
        assert_eq!(read(&root), Sysfs::default());
        write(&root, "/sys/module/kvm_intel/parameters/nested", "N\n");
        assert_eq!(read(&root).nested, Some(("kvm_intel".into(), false)));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn booleans_and_sizes_parse_as_the_kernel_prints_them() {
        assert_eq!(parse_bool("Y\n"), Some(true));
        assert_eq!(parse_bool("0"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
        assert_eq!(hugepage_dir_kib("hugepages-2048kB"), Some(2048));
        assert_eq!(hugepage_dir_kib("hugepages-xkB"), None);
    }
}
