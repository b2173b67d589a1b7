//! The PXE set: the kernel, the stage-1 initramfs, a second initramfs holding only the root
//! squashfs (`/rootfs.squashfs`, so stage 1 needs no network), and an example iPXE script that
//! loads both initrds.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use anyhow::Result;

use super::cpio::CpioWriter;

/// The iPXE script: fetch everything relative to the script's own URL, boot with `cmdline`.
pub fn boot_ipxe(cmdline: &str) -> String {
    format!(
        "#!ipxe\n\
         # Plinth PXE boot: serve this directory over HTTP and chain this script, e.g.\n\
         #   chain http://<server>/plinth/boot.ipxe\n\
         # The root image travels as a second initrd, so stage 1 needs no network.\n\
         kernel vmlinuz initrd=initrd initrd=rootfs.img {}\n\
         initrd initrd\n\
         initrd rootfs.img\n\
         boot\n",
        cmdline.trim()
    )
}

/// Writes `out`, a newc cpio holding `squashfs` as `rootfs.squashfs`.
pub fn root_initrd(out: &Path, squashfs: &Path) -> Result<()> {
    let mut w = CpioWriter::new(BufWriter::new(File::create(out)?));
    w.file_from("rootfs.squashfs", 0o444, squashfs)?;
    w.finish()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipxe_loads_both_initrds_and_names_them_for_efi() {
        let script = boot_ipxe("console=ttyS0\n");
        assert!(script.starts_with("#!ipxe\n"));
        assert!(script.contains("kernel vmlinuz initrd=initrd initrd=rootfs.img console=ttyS0\n"));
        assert!(script.contains("initrd initrd\ninitrd rootfs.img\nboot\n"));
    }
}
