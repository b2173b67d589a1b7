//! Which observed disk a selector names: a path (the kernel name or one of udev's links), or a
//! serial, WWN or model. Exactly one disk must match; none or several is said with what was found.

use plinth_config::plinth::DiskSelector;

use super::disk::Disk;

/// What a selector found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selected<'a> {
    /// Exactly one disk.
    One(&'a Disk),
    /// No disk (yet): the message names the disks there are.
    None(String),
    /// Several disks: the message names them.
    Several(String),
}

fn wwn_eq(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        let s = s.trim().to_ascii_lowercase();
        let s = s.strip_prefix("0x").unwrap_or(&s).to_owned();
        s.strip_prefix("naa.").unwrap_or(&s).to_owned()
    };
    norm(a) == norm(b)
}

/// Whether `disk` is named by `selector`. `resolved` is the kernel name a path selector's
/// symlink points at, when the observer could resolve it.
pub fn matches(selector: &DiskSelector, resolved: Option<&str>, disk: &Disk) -> bool {
    match selector {
        DiskSelector::Path(path) => {
            *path == disk.dev()
                || disk.links.iter().any(|l| l == path)
                || resolved == Some(disk.name.as_str())
        }
        DiskSelector::Serial(s) => disk.serial.as_deref().map(str::trim) == Some(s.trim()),
        DiskSelector::Wwn(w) => disk.wwn.as_deref().is_some_and(|d| wwn_eq(d, w)),
        DiskSelector::Model(m) => disk.model.as_deref().map(str::trim) == Some(m.trim()),
    }
}

/// A short description of a disk for messages: `vdb (serial CV1, 4.0 GiB)`.
pub fn describe(disk: &Disk) -> String {
    let mut facts = Vec::new();
    if let Some(s) = &disk.serial {
        facts.push(format!("serial {s}"));
    }
    if let Some(w) = &disk.wwn {
        facts.push(format!("wwn {w}"));
    }
    if let Some(m) = &disk.model {
        facts.push(format!("model {m}"));
    }
    facts.push(format!(
        "{:.1} GiB",
        disk.size_bytes as f64 / (1u64 << 30) as f64
    ));
    format!("{} ({})", disk.name, facts.join(", "))
}

/// The disk `selector` names among `disks`.
pub fn select<'a>(
    selector: &DiskSelector,
    resolved: Option<&str>,
    disks: &'a [Disk],
) -> Selected<'a> {
    let found: Vec<&Disk> = disks
        .iter()
        .filter(|d| matches(selector, resolved, d))
        .collect();
    match found.as_slice() {
        [one] => Selected::One(one),
        [] => {
            let there: Vec<String> = disks.iter().map(describe).collect();
            let there = if there.is_empty() {
                "no disks at all".to_owned()
            } else {
                there.join("; ")
            };
            Selected::None(format!("no disk matches `{selector}` (found: {there})"))
        }
        several => Selected::Several(format!(
            "`{selector}` matches {} disks, it must name one: {}",
            several.len(),
            several
                .iter()
                .map(|d| describe(d))
                .collect::<Vec<_>>()
                .join("; ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disk(name: &str, serial: &str, model: &str) -> Disk {
        Disk {
            name: name.into(),
            links: vec![format!("/dev/disk/by-id/virtio-{serial}")],
            serial: Some(serial.into()),
            model: Some(model.into()),
            wwn: Some("0x5000c500a1b2c3d4".into()).filter(|_| name == "sdb"),
            size_bytes: 4 << 30,
            ..Disk::default()
        }
    }

    fn sel(s: &str) -> DiskSelector {
        DiskSelector::parse(s).unwrap()
    }

    #[test]
    fn each_form_finds_its_disk() {
        let disks = [disk("vdb", "cv1", "virt"), disk("sdb", "cv2", "ssd")];
        let name = |s: &str, r: Option<&str>| match select(&sel(s), r, &disks) {
            Selected::One(d) => d.name.clone(),
            other => panic!("{s}: {other:?}"),
        };
        assert_eq!(name("/dev/vdb", None), "vdb");
        assert_eq!(name("/dev/disk/by-id/virtio-cv2", None), "sdb");
        assert_eq!(name("/dev/disk/by-path/pci-0:1", Some("vdb")), "vdb");
        assert_eq!(name("serial:cv2", None), "sdb");
        assert_eq!(name("wwn:5000C500A1B2C3D4", None), "sdb");
        assert_eq!(name("model:ssd", None), "sdb");
    }

    #[test]
    fn none_or_several_say_what_was_found() {
        let disks = [disk("vdb", "cv1", "virt"), disk("vdc", "cv2", "virt")];
        match select(&sel("serial:nope"), None, &disks) {
            Selected::None(m) => {
                assert!(m.contains("no disk matches `serial:nope`"), "{m}");
                assert!(m.contains("vdb (serial cv1, model virt, 4.0 GiB)"), "{m}");
            }
            other => panic!("{other:?}"),
        }
        match select(&sel("model:virt"), None, &disks) {
            Selected::Several(m) => assert!(m.contains("matches 2 disks"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            select(&sel("serial:x"), None, &[]),
            Selected::None(m) if m.contains("no disks at all")
        ));
    }
}
