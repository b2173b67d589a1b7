//! A node's own boot line: the image's command line (`image/cmdline`) followed by the kernel
//! arguments of its machine config (`plinth.kernel.cmdline` and `hugepages`), and the boot loader
//! files that carry it where the boot path lets the line change: the iPXE script of a PXE boot and
//! the `syslinux.cfg` of a BIOS boot. A UEFI boot runs the UKI, whose command line was fixed when
//! the image was built; no per-node line reaches it. Pure.

use plinth_config::plinth::Kernel;

use super::{esp, pxe};

/// The image's line, then the node's arguments (those already on the image's line left out).
pub fn node_cmdline(image: &str, kernel: &Kernel) -> String {
    let mut words: Vec<String> = image.split_whitespace().map(String::from).collect();
    for arg in kernel.boot_args() {
        if !words.contains(&arg) {
            words.push(arg);
        }
    }
    words.join(" ")
}

/// The boot loader a node's line is written for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Loader {
    /// The iPXE script of a PXE boot.
    Ipxe,
    /// `/syslinux/syslinux.cfg` on the ESP, for a BIOS boot.
    Syslinux,
}

/// The loader's file booting with the node's line.
pub fn loader_file(loader: Loader, image_cmdline: &str, kernel: &Kernel) -> String {
    let line = node_cmdline(image_cmdline, kernel);
    match loader {
        Loader::Ipxe => pxe::boot_ipxe(&line),
        Loader::Syslinux => esp::syslinux_cfg(&line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plinth_config::plinth::{HugepageSize, Hugepages};

    fn kernel() -> Kernel {
        Kernel {
            cmdline: vec!["intel_iommu=on".into(), "console=tty0".into()],
            hugepages: vec![Hugepages {
                size: HugepageSize::OneGiB,
                count: 8,
            }],
            ..Kernel::default()
        }
    }

    #[test]
    fn the_nodes_arguments_follow_the_images_once() {
        assert_eq!(
            node_cmdline(
                "console=tty0 console=ttyS0,115200 plinth.slot=a\n",
                &kernel()
            ),
            "console=tty0 console=ttyS0,115200 plinth.slot=a hugepagesz=1G hugepages=8 intel_iommu=on"
        );
        assert_eq!(node_cmdline("quiet", &Kernel::default()), "quiet");
    }

    #[test]
    fn both_loaders_boot_with_the_nodes_line() {
        let ipxe = loader_file(Loader::Ipxe, "quiet", &kernel());
        assert!(
            ipxe.contains("initrd=rootfs.img quiet hugepagesz=1G hugepages=8"),
            "{ipxe}"
        );
        let cfg = loader_file(Loader::Syslinux, "quiet", &kernel());
        assert!(
            cfg.contains("  APPEND quiet hugepagesz=1G hugepages=8 intel_iommu=on console=tty0\n"),
            "{cfg}"
        );
    }
}
