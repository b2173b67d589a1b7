//! Late drivers for config media: disk controllers stage 1 leaves out to save time, loaded here
//! only when no seed or config drive was found on the devices already there. Today that is the
//! PIIX IDE controller (`ata_piix`) of i440fx (`pc`) machines, where OpenStack attaches a config
//! drive, and QEMU a `-cdrom`, as an IDE CD-ROM. Stage 1 loads `ata_piix` only when no root
//! appears (it costs 0.6 s under TCG and the root is on virtio there), and udev would load it only
//! after the `config` phase, so without this such a seed is never read.
//!
//! Loading returns once the probing the module started is over — the kernel waits for a module's
//! asynchronous work (libata's port scan) before `finit_module` returns — and `sr_mod`, loaded
//! after it, binds the CD-ROM at once, so its block device exists when the loads return.
//! [`wanted`] is the pure decision; [`load_if_present`] the effect.

use std::path::Path;
use std::time::Instant;

use crate::host_contract::modules;
use crate::stage1::hardware::{glob_match, modaliases, parse_aliases};

/// Controllers whose media stage 1 may have left unreachable.
pub const LATE_CONTROLLERS: &[&str] = &["ata_piix"];
/// What reads a CD-ROM once its controller is there.
const CD_DRIVER: &str = "sr_mod";

/// The late controllers a present device (`modaliases`) matches in `alias_text` (the kernel's
/// `modules.alias`) and that are not loaded yet (`loaded`).
pub fn wanted(
    alias_text: &str,
    modaliases: &[String],
    loaded: impl Fn(&str) -> bool,
) -> Vec<String> {
    let aliases = parse_aliases(alias_text);
    LATE_CONTROLLERS
        .iter()
        .filter(|module| !loaded(module))
        .filter(|module| {
            aliases.iter().any(|(pattern, m)| {
                m == *module && modaliases.iter().any(|alias| glob_match(pattern, alias))
            })
        })
        .map(|m| m.to_string())
        .collect()
}

/// Loads the late controllers this machine has, and the CD-ROM driver with them; says what it
/// did, or `None` when there was nothing to load.
pub fn load_if_present() -> Option<String> {
    let moddir = modules::running_kernel_dir();
    let alias_text = std::fs::read_to_string(moddir.join("modules.alias")).ok()?;
    let present = modaliases(Path::new("/sys/bus"));
    let is_loaded = |m: &str| Path::new("/sys/module").join(m).exists();
    let mut load = wanted(&alias_text, &present, is_loaded);
    if load.is_empty() {
        return None;
    }
    load.push(CD_DRIVER.to_string());
    let started = Instant::now();
    let report = modules::load_all(&moddir, &load);
    let mut said = format!(
        "no seed on the disks found so far: loaded {} for config media on this machine's IDE controller in {} ms",
        load.join(", "),
        started.elapsed().as_millis()
    );
    for warning in &report.warnings {
        said.push_str(&format!("; {warning}"));
    }
    Some(said)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALIAS: &str = "\
alias pci:v00008086d00007010sv*sd*bc*sc*i* ata_piix
alias pci:v00008086d00007111sv*sd*bc*sc*i* ata_piix
alias pci:v*d*sv*sd*bc01sc06i01* ahci
alias scsi:t-0x05* sr_mod
";

    #[test]
    fn the_piix_ide_controller_of_a_pc_machine_wants_ata_piix_once() {
        let pc = vec![
            "pci:v00008086d00001237sv00001AF4sd00001100bc06sc00i00".to_string(),
            "pci:v00008086d00007010sv00001AF4sd00001100bc01sc01i80".to_string(),
        ];
        assert_eq!(wanted(ALIAS, &pc, |_| false), ["ata_piix"]);
        assert!(
            wanted(ALIAS, &pc, |m| m == "ata_piix").is_empty(),
            "already loaded: nothing to do"
        );
    }

    #[test]
    fn a_q35_machine_has_nothing_late() {
        let q35 = vec!["pci:v00008086d00002922sv00001AF4sd00001100bc01sc06i01".to_string()];
        assert!(wanted(ALIAS, &q35, |_| false).is_empty());
        assert!(wanted("", &q35, |_| false).is_empty());
    }
}
