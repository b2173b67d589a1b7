//! Config media: filesystems labelled `cidata` (a NoCloud seed, ISO 9660 as `cloud-localds` and
//! genisoimage make it, or FAT) or `config-2` (an OpenStack config drive), found by reading the label
//! from each block device's first sectors (udev is not running yet when the config is read) and
//! mounted read-only.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use nix::mount::{MsFlags, mount};

/// Bytes read from the start of each device: enough for the ISO 9660 primary volume descriptor.
const HEAD: usize = 0x8000 + 2048;

/// The filesystem type and label found in the first bytes of a device.
pub fn label_of(head: &[u8]) -> Option<(&'static str, String)> {
    let text = |range: std::ops::Range<usize>| {
        head.get(range).map(|b| {
            String::from_utf8_lossy(b)
                .trim_end_matches([' ', '\0'])
                .to_string()
        })
    };
    if head.get(0x8001..0x8006) == Some(b"CD001") {
        return text(0x8028..0x8048).map(|l| ("iso9660", l));
    }
    if head.get(510..512) == Some(&[0x55, 0xAA]) {
        if head.get(82..87) == Some(b"FAT32") {
            return text(71..82).map(|l| ("vfat", l));
        }
        if head.get(54..57) == Some(b"FAT") {
            return text(43..54).map(|l| ("vfat", l));
        }
    }
    None
}

/// Finds the filesystems labelled with one of `labels` (case-insensitive; the first device for each)
/// among `/sys/class/block`, mounts each read-only on `dir/<label>`, and returns (label, mount point).
pub fn mount_labelled(dir: &Path, labels: &[&str]) -> Vec<(String, PathBuf)> {
    let mut mounted: Vec<(String, PathBuf)> = Vec::new();
    let Ok(entries) = std::fs::read_dir("/sys/class/block") else {
        return mounted;
    };
    let mut names: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("loop") && !n.starts_with("ram"))
        .collect();
    names.sort();
    for name in names {
        let device = format!("/dev/{name}");
        let Some((fstype, label)) = read_head(&device).as_deref().and_then(label_of) else {
            continue;
        };
        let Some(wanted) = labels.iter().find(|l| l.eq_ignore_ascii_case(&label)) else {
            continue;
        };
        if mounted.iter().any(|(l, _)| l.eq_ignore_ascii_case(wanted)) {
            continue;
        }
        let target = dir.join(wanted);
        let _ = std::fs::create_dir_all(&target);
        let flags =
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        match mount(
            Some(device.as_str()),
            &target,
            Some(fstype),
            flags,
            None::<&str>,
        ) {
            Ok(()) => {
                crate::console::say(&format!(
                    "config media {device} ({fstype}, {label}) on {}",
                    target.display()
                ));
                mounted.push((label, target));
            }
            Err(e) => crate::console::say(&format!(
                "cannot mount config media {device} ({fstype}, {label}): {e}"
            )),
        }
    }
    mounted
}

fn read_head(device: &str) -> Option<Vec<u8>> {
    let mut file = File::open(device).ok()?;
    let mut head = vec![0u8; HEAD];
    let mut filled = 0;
    while let Some(unfilled) = head.get_mut(filled..).filter(|u| !u.is_empty()) {
        match file.read(unfilled) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(_) => return None,
        }
    }
    head.truncate(filled);
    Some(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_iso9660_and_fat_labels() {
        let mut iso = vec![0u8; HEAD];
        iso[0x8001..0x8006].copy_from_slice(b"CD001");
        iso[0x8028..0x8048].copy_from_slice(format!("{:<32}", "cidata").as_bytes());
        assert_eq!(label_of(&iso), Some(("iso9660", "cidata".into())));

        let mut fat16 = vec![0u8; 512];
        fat16[510] = 0x55;
        fat16[511] = 0xAA;
        fat16[43..54].copy_from_slice(b"CIDATA     ");
        fat16[54..62].copy_from_slice(b"FAT16   ");
        assert_eq!(label_of(&fat16), Some(("vfat", "CIDATA".into())));

        let mut fat32 = vec![0u8; 512];
        fat32[510] = 0x55;
        fat32[511] = 0xAA;
        fat32[71..82].copy_from_slice(b"cidata     ");
        fat32[82..90].copy_from_slice(b"FAT32   ");
        assert_eq!(label_of(&fat32), Some(("vfat", "cidata".into())));

        assert_eq!(label_of(&[0u8; 100]), None);
    }

    #[test]
    fn reads_the_label_of_a_real_iso_when_genisoimage_is_installed() {
        let dir = std::env::temp_dir().join(format!("plinth-seed-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("seed")).unwrap();
        std::fs::write(dir.join("seed/user-data"), "#cloud-config\n").unwrap();
        let iso = dir.join("seed.iso");
        let made = std::process::Command::new("genisoimage")
            .args(["-quiet", "-volid", "cidata", "-joliet", "-rock", "-o"])
            .arg(&iso)
            .arg(dir.join("seed"))
            .status();
        if made.is_ok_and(|s| s.success()) {
            let head = read_head(iso.to_str().unwrap()).unwrap();
            assert_eq!(label_of(&head), Some(("iso9660", "cidata".into())));
        } else {
            eprintln!("genisoimage not installed: only the synthetic labels were checked");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
