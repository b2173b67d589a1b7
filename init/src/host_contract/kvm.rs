//! KVM access for the libvirt pod (GENESTACK.md, compute nodes): group `kvm` with GID 929292 in
//! `/etc/group` (the /etc overlay is writable), a udev rule making `/dev/kvm` `root:kvm 0660`, and
//! the same ownership applied at once to a `/dev/kvm` that already exists (udev may have created it
//! before the rule was written).

use std::path::Path;

use crate::atomic_file;

/// The GID Genestack's libvirt pod expects for `kvm`.
pub const KVM_GID: u32 = 929_292;
/// Where the rule goes, relative to the root.
pub const RULE_PATH: &str = "etc/udev/rules.d/65-plinth-kvm.rules";
/// The rule: `/dev/kvm` owned by group kvm, mode 0660.
pub const RULE: &str = "# Written by plinth-init: /dev/kvm for group kvm (GID 929292), as Genestack's libvirt pod expects.\nKERNEL==\"kvm\", GROUP=\"kvm\", MODE=\"0660\"\n";

/// `/etc/group` with `kvm` at GID 929292: unchanged (`None`) when it is already so; an existing
/// `kvm` line with another GID gets the Genestack GID and keeps its members.
pub fn group_file(current: &str) -> Option<String> {
    let mut found = false;
    let mut changed = false;
    let mut lines: Vec<String> = Vec::new();
    for line in current.lines() {
        let fields: Vec<&str> = line.split(':').collect();
        if let ["kvm", password, gid, rest @ ..] = fields.as_slice()
            && !rest.is_empty()
        {
            found = true;
            if *gid != KVM_GID.to_string() {
                changed = true;
                lines.push(format!("kvm:{password}:{KVM_GID}:{}", rest.join(":")));
                continue;
            }
        }
        lines.push(line.to_string());
    }
    if !found {
        lines.push(format!("kvm:x:{KVM_GID}:"));
        changed = true;
    }
    changed.then(|| lines.join("\n") + "\n")
}

/// Applies the group, the rule and `/dev/kvm`'s ownership under `root`; returns what it did.
pub fn apply(root: &Path) -> std::io::Result<String> {
    let group = root.join("etc/group");
    let current = std::fs::read_to_string(&group).unwrap_or_default();
    let mut done = Vec::new();
    if let Some(text) = group_file(&current) {
        atomic_file::write(&group, text.as_bytes(), 0o644)?;
        done.push(format!("group kvm is GID {KVM_GID}"));
    }
    let rule = root.join(RULE_PATH);
    if std::fs::read_to_string(&rule).ok().as_deref() != Some(RULE) {
        atomic_file::write(&rule, RULE.as_bytes(), 0o644)?;
        done.push("udev rule written".to_string());
    }
    let dev = root.join("dev/kvm");
    if dev.exists() {
        std::os::unix::fs::chown(&dev, Some(0), Some(KVM_GID))?;
        std::fs::set_permissions(&dev, std::os::unix::fs::PermissionsExt::from_mode(0o660))?;
        done.push("/dev/kvm root:kvm 0660".to_string());
    } else {
        done.push("no /dev/kvm".to_string());
    }
    Ok(done.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_or_fixes_the_kvm_group_once() {
        let added = group_file("root:x:0:\nkvm2:x:5:\n").unwrap();
        assert_eq!(added, "root:x:0:\nkvm2:x:5:\nkvm:x:929292:\n");
        assert_eq!(group_file(&added), None, "applying twice changes nothing");
        let fixed = group_file("root:x:0:\nkvm:x:992:libvirt,qemu\n").unwrap();
        assert_eq!(fixed, "root:x:0:\nkvm:x:929292:libvirt,qemu\n");
    }

    #[test]
    fn writes_group_and_rule_under_a_root() {
        let root = std::env::temp_dir().join(format!("plinth-kvm-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/group"), "root:x:0:\n").unwrap();
        let said = apply(&root).unwrap();
        assert!(said.contains("group kvm"), "{said}");
        let group = std::fs::read_to_string(root.join("etc/group")).unwrap();
        assert!(group.contains("kvm:x:929292:"), "{group}");
        assert_eq!(std::fs::read_to_string(root.join(RULE_PATH)).unwrap(), RULE);
        assert_eq!(
            apply(&root).unwrap(),
            "no /dev/kvm",
            "a second run changes nothing"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
