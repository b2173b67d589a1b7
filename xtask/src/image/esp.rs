//! The EFI system partition image: FAT32 made by `mkfs.vfat -C`, filled with mtools (no mount),
//! holding the UKI as `\EFI\BOOT\BOOTX64.EFI` for UEFI and syslinux with the kernel and the
//! stage-1 initramfs for legacy BIOS (gptmbr.bin in the MBR chain-loads it).

use std::path::Path;

use anyhow::Result;

use crate::cmd;

/// syslinux.cfg: boot the kernel straight away with the image's command line.
pub fn syslinux_cfg(cmdline: &str) -> String {
    format!(
        "DEFAULT plinth\nPROMPT 0\nTIMEOUT 0\nSERIAL 0 115200\n\
         LABEL plinth\n  LINUX /plinth/vmlinuz\n  INITRD /plinth/initrd\n  APPEND {}\n",
        cmdline.trim()
    )
}

/// Files that go into the ESP.
pub struct EspContents<'a> {
    pub uki: &'a Path,
    pub kernel: &'a Path,
    pub initrd: &'a Path,
    pub cmdline: &'a str,
}

/// Writes the ESP image `out` of `size_mib` MiB.
pub fn build(out: &Path, size_mib: u64, contents: &EspContents, scratch: &Path) -> Result<()> {
    let _ = std::fs::remove_file(out);
    let mut mkfs = cmd::cmd("mkfs.vfat", ["-F", "32", "-n", "ESP", "-C"]);
    mkfs.arg(out).arg((size_mib * 1024).to_string());
    cmd::output(&mut mkfs)?;
    let mtool = |tool: &str, args: &[&std::ffi::OsStr]| {
        let mut c = cmd::cmd(tool, ["-i"]);
        c.arg(out).args(args).env("MTOOLS_SKIP_CHECK", "1");
        cmd::output(&mut c).map(|_| ())
    };
    for dir in ["::/EFI", "::/EFI/BOOT", "::/plinth", "::/syslinux"] {
        mtool("mmd", &[dir.as_ref()])?;
    }
    let cfg = scratch.join("syslinux.cfg");
    std::fs::write(&cfg, syslinux_cfg(contents.cmdline))?;
    for (src, dst) in [
        (contents.uki, "::/EFI/BOOT/BOOTX64.EFI"),
        (contents.kernel, "::/plinth/vmlinuz"),
        (contents.initrd, "::/plinth/initrd"),
        (cfg.as_path(), "::/syslinux/syslinux.cfg"),
    ] {
        mtool("mcopy", &[src.as_os_str(), dst.as_ref()])?;
    }
    let mut syslinux = cmd::cmd("syslinux", ["--directory", "/syslinux", "--install"]);
    syslinux.arg(out).env("MTOOLS_SKIP_CHECK", "1");
    cmd::output(&mut syslinux)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syslinux_boots_the_kernel_at_once_with_the_cmdline() {
        let cfg = syslinux_cfg("console=ttyS0 plinth.slot=a\n");
        assert!(cfg.contains("TIMEOUT 0"));
        assert!(cfg.contains("LINUX /plinth/vmlinuz"));
        assert!(cfg.contains("INITRD /plinth/initrd"));
        assert!(cfg.ends_with("APPEND console=ttyS0 plinth.slot=a\n"));
    }
}
