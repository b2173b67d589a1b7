//! The unified kernel image (UKI) for UEFI: systemd's EFI stub with the kernel, the stage-1
//! initramfs, the command line and an os-release added as PE sections by `objcopy`, so the host
//! needs neither ukify nor a signing setup.
//!
//! The pure part is the section placement: each new section starts at the first
//! section-aligned address after the stub's last section and the previous new one.

use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::cmd;

/// The stub from the host's systemd-boot-efi package.
pub const STUB: &str = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub";

/// The end (VMA + size) of the last section listed in `objdump -h` output.
pub fn stub_end(objdump_h: &str) -> Result<u64> {
    let mut end = None;
    for line in objdump_h.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // "  5 .reloc  00000078  000000014dfa3000  000000014dfa3000  0000e600  2**2"
        if fields.len() >= 7 && fields[0].parse::<u32>().is_ok() && fields[1].starts_with('.') {
            let size = u64::from_str_radix(fields[2], 16)?;
            let vma = u64::from_str_radix(fields[3], 16)?;
            end = end.max(Some(vma + size));
        }
    }
    end.context("objdump -h listed no sections")
}

/// `SectionAlignment` from `objdump -p` output.
pub fn section_alignment(objdump_p: &str) -> Result<u64> {
    let value = objdump_p
        .lines()
        .find_map(|l| l.strip_prefix("SectionAlignment"))
        .context("objdump -p shows no SectionAlignment")?;
    Ok(u64::from_str_radix(value.trim(), 16)?)
}

/// Addresses for sections of the given sizes, placed in order after `start`.
pub fn place(start: u64, align: u64, sizes: &[u64]) -> Vec<u64> {
    let up = |x: u64| x.div_ceil(align) * align;
    let mut next = up(start);
    sizes
        .iter()
        .map(|size| {
            let at = next;
            next = up(at + size);
            at
        })
        .collect()
}

/// Builds `out` from the stub, `osrel`, `cmdline`, `kernel` and `initrd`.
pub fn build(out: &Path, osrel: &Path, cmdline: &Path, kernel: &Path, initrd: &Path) -> Result<()> {
    let headers = cmd::output(&mut cmd::cmd("objdump", ["-h", STUB]))?;
    let private = cmd::output(&mut cmd::cmd("objdump", ["-p", STUB]))?;
    // .linux goes last: the kernel may need room beyond its file size once loaded.
    let sections = [
        (".osrel", osrel),
        (".cmdline", cmdline),
        (".initrd", initrd),
        (".linux", kernel),
    ];
    let sizes = sections
        .iter()
        .map(|(_, p)| {
            Ok(std::fs::metadata(p)
                .with_context(|| p.display().to_string())?
                .len())
        })
        .collect::<Result<Vec<u64>>>()?;
    let addrs = place(stub_end(&headers)?, section_alignment(&private)?, &sizes);
    let mut objcopy = cmd::cmd("objcopy", Vec::<String>::new());
    for ((name, path), addr) in sections.iter().zip(&addrs) {
        objcopy
            .arg("--add-section")
            .arg(format!("{name}={}", path.display()))
            .arg("--change-section-vma")
            .arg(format!("{name}={addr:#x}"));
    }
    objcopy.arg(STUB).arg(out);
    cmd::run(&mut objcopy)?;
    if !out.exists() {
        bail!("objcopy wrote no {}", out.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OBJDUMP_H: &str = "
Sections:
Idx Name          Size      VMA               LMA               File off  Algn
  0 .text         0000b6fe  000000014df91000  000000014df91000  00000400  2**4
                  CONTENTS, ALLOC, LOAD, READONLY, CODE
  4 .sbat         000000e2  000000014dfa2000  000000014dfa2000  0000e400  2**2
  5 .reloc        00000078  000000014dfa3000  000000014dfa3000  0000e600  2**2
                  CONTENTS, ALLOC, LOAD, READONLY, DATA
";

    #[test]
    fn finds_the_end_of_the_last_section() {
        assert_eq!(stub_end(OBJDUMP_H).unwrap(), 0x1_4dfa_3078);
        assert!(stub_end("no sections here").is_err());
    }

    #[test]
    fn reads_the_section_alignment() {
        let p = "ImageBase\t\t000000014df90000\nSectionAlignment\t00001000\n";
        assert_eq!(section_alignment(p).unwrap(), 0x1000);
    }

    #[test]
    fn sections_are_aligned_and_never_overlap() {
        let addrs = place(0x1_4dfa_3078, 0x1000, &[0x10, 0x2345, 0]);
        assert_eq!(addrs, [0x1_4dfa_4000, 0x1_4dfa_5000, 0x1_4dfa_8000]);
    }
}
