//! The GPT disk: its layout (a pure plan: where the ESP and the two root slots go, how big the
//! disk is) and the assembly without loop mounts — sfdisk writes the table, gptmbr.bin the BIOS
//! boot code, and the ESP and root images are copied in at their offsets.

use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::process::Stdio;

use anyhow::{Context, Result, bail};

use crate::cmd;

const MIB: u64 = 1024 * 1024;

/// GPT partition type of an EFI system partition.
const ESP_TYPE: &str = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
/// GPT partition type "Linux root (x86-64)" from the Discoverable Partitions Specification.
const ROOT_TYPE: &str = "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709";

/// Partition names stage 1 looks for.
pub const SLOT_A: &str = "plinth-root-a";
pub const SLOT_B: &str = "plinth-root-b";

/// Where everything goes on the disk, in MiB-aligned bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub esp_start: u64,
    pub esp_size: u64,
    pub slot_a_start: u64,
    pub slot_b_start: u64,
    pub slot_size: u64,
    /// First byte after slot B: the state partition goes here on the first boot.
    pub state_start: u64,
    pub disk_size: u64,
}

/// Plans the disk: a 1 MiB gap for the GPT, the ESP, two equal root slots, then `state_room`
/// of unpartitioned space. Fails when the root image does not fit a slot.
pub fn plan(esp_size: u64, slot_size: u64, root_size: u64, state_room: u64) -> Result<Layout> {
    if root_size > slot_size {
        bail!(
            "the root image ({} MiB) does not fit a root slot ({} MiB)",
            root_size.div_ceil(MIB),
            slot_size / MIB
        );
    }
    let esp_start = MIB;
    let slot_a_start = esp_start + esp_size;
    let slot_b_start = slot_a_start + slot_size;
    let state_start = slot_b_start + slot_size;
    // One more MiB at the end holds the backup GPT.
    let disk_size = state_start + state_room + MIB;
    Ok(Layout {
        esp_start,
        esp_size,
        slot_a_start,
        slot_b_start,
        slot_size,
        state_start,
        disk_size,
    })
}

/// The sfdisk script for `layout` (sizes in 512-byte sectors).
pub fn sfdisk_script(layout: &Layout) -> String {
    let s = |bytes: u64| bytes / 512;
    format!(
        "label: gpt\n\
         start={}, size={}, type={ESP_TYPE}, name=\"ESP\", attrs=\"LegacyBIOSBootable\"\n\
         start={}, size={}, type={ROOT_TYPE}, name=\"{SLOT_A}\"\n\
         start={}, size={}, type={ROOT_TYPE}, name=\"{SLOT_B}\"\n",
        s(layout.esp_start),
        s(layout.esp_size),
        s(layout.slot_a_start),
        s(layout.slot_size),
        s(layout.slot_b_start),
        s(layout.slot_size),
    )
}

/// Writes `disk` (sparse) from the layout, the ESP image, the root image and gptmbr.bin.
pub fn assemble(disk: &Path, layout: &Layout, esp: &Path, root: &Path, mbr: &Path) -> Result<()> {
    let _ = std::fs::remove_file(disk);
    let file =
        std::fs::File::create(disk).with_context(|| format!("creating {}", disk.display()))?;
    file.set_len(layout.disk_size)?;
    drop(file);
    let mut sfdisk = cmd::cmd("sfdisk", ["--quiet", "--no-reread", "--no-tell-kernel"]);
    sfdisk.arg(disk).stdin(Stdio::piped());
    let shown = cmd::show(&sfdisk);
    eprintln!("$ {shown}");
    let mut child = sfdisk
        .spawn()
        .with_context(|| format!("starting {shown}"))?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(sfdisk_script(layout).as_bytes())?;
    let status = child.wait()?;
    if !status.success() {
        bail!("`{shown}` failed ({status})");
    }
    let boot_code = std::fs::read(mbr).with_context(|| format!("reading {}", mbr.display()))?;
    if boot_code.len() > 440 {
        bail!(
            "{} is {} bytes; the MBR boot code area is 440",
            mbr.display(),
            boot_code.len()
        );
    }
    let mut out = OpenOptions::new().write(true).open(disk)?;
    out.write_all(&boot_code)?;
    copy_at(&mut out, esp, layout.esp_start, layout.esp_size)?;
    copy_at(&mut out, root, layout.slot_a_start, layout.slot_size)?;
    Ok(())
}

/// Copies `src` into `out` at `offset`, checking it fits `room`.
fn copy_at(out: &mut std::fs::File, src: &Path, offset: u64, room: u64) -> Result<()> {
    let mut input =
        std::fs::File::open(src).with_context(|| format!("opening {}", src.display()))?;
    let len = input.metadata()?.len();
    if len > room {
        bail!(
            "{} ({len} bytes) does not fit its {room}-byte partition",
            src.display()
        );
    }
    out.seek(SeekFrom::Start(offset))?;
    std::io::copy(&mut input, out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_equal_aligned_and_followed_by_state_room() {
        let l = plan(128 * MIB, 512 * MIB, 150 * MIB, 1024 * MIB).unwrap();
        assert_eq!(l.esp_start, MIB);
        assert_eq!(l.slot_a_start, 129 * MIB);
        assert_eq!(l.slot_b_start, l.slot_a_start + 512 * MIB);
        assert_eq!(l.state_start, l.slot_b_start + 512 * MIB);
        assert_eq!(l.disk_size, l.state_start + 1025 * MIB);
        for at in [l.esp_start, l.slot_a_start, l.slot_b_start, l.state_start] {
            assert_eq!(at % MIB, 0);
        }
    }

    #[test]
    fn a_root_larger_than_a_slot_is_refused() {
        let err = plan(128 * MIB, 512 * MIB, 600 * MIB, 0).unwrap_err();
        assert!(err.to_string().contains("does not fit"), "{err}");
    }

    #[test]
    fn script_names_both_slots_and_marks_the_esp_bios_bootable() {
        let script = sfdisk_script(&plan(64 * MIB, 256 * MIB, MIB, MIB).unwrap());
        assert!(script.starts_with("label: gpt\n"));
        assert!(script.contains("start=2048, size=131072, type=C12A7328"));
        assert!(script.contains("LegacyBIOSBootable"));
        assert!(script.contains("name=\"plinth-root-a\""));
        assert!(script.contains("name=\"plinth-root-b\""));
    }
}
