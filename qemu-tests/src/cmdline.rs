//! The QEMU command line, built from a [`MachineSpec`] by one pure function so every choice
//! (firmware, disks, seed, console, port forwards, QMP) is unit-tested without starting QEMU.
//!
//! Choices that hold for every machine: q35 (or i440fx, [`Chipset`]), `-nodefaults` and no display
//! (the serial port is the
//! console), virtio disks and NIC, a virtio RNG, and user networking with `restrict=on`, so the guest
//! reaches nothing outside this machine: only the explicit `hostfwd` rules (bound to 127.0.0.1) and
//! QEMU's own DHCP answer.

use std::ffi::OsString;
use std::path::PathBuf;

/// The UEFI firmware used for `--uefi` boots (Debian's `ovmf` package).
pub const OVMF: &str = "/usr/share/ovmf/OVMF.fd";

/// The QEMU binary.
pub const QEMU: &str = "qemu-system-x86_64";

/// How the CPU is emulated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accel {
    /// Hardware virtualisation (only when a probe showed it works here).
    Kvm,
    /// Software emulation, one host thread per machine.
    Tcg,
}

/// How the machine starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Boot {
    /// UEFI firmware (OVMF) boots the first drive.
    Uefi,
    /// Legacy BIOS (SeaBIOS, QEMU's default) boots the first drive.
    Bios,
    /// QEMU loads a kernel and initrd directly, as iPXE would (the PXE set).
    Kernel {
        kernel: PathBuf,
        /// The initramfs (for Linux, QEMU takes exactly one file).
        initrd: Option<OsString>,
        append: String,
    },
}

/// A disk image format QEMU is told explicitly (never probed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiskFormat {
    Raw,
    Qcow2,
}

impl DiskFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            DiskFormat::Raw => "raw",
            DiskFormat::Qcow2 => "qcow2",
        }
    }
}

/// A virtio block device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Drive {
    pub path: PathBuf,
    pub format: DiskFormat,
    pub read_only: bool,
    /// The serial number the guest sees (`/sys/block/vdX/serial`, udev's
    /// `/dev/disk/by-id/virtio-<serial>`); at most 20 characters, no commas.
    pub serial: Option<String>,
}

/// A host TCP port forwarded to a guest port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Forward {
    pub host: u16,
    pub guest: u16,
}

/// A guest address and port whose TCP connections QEMU relays to a port on the host's loopback
/// (`guestfwd` with `cmd:busybox nc`, one relay per connection), the one way a `restrict=on` guest
/// reaches the host: a test's HTTP server, at [`GUEST_FORWARD_ADDR`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuestForward {
    pub guest: u16,
    pub host: u16,
}

/// The guest-side address of [`GuestForward`]s (inside QEMU's 10.0.2.0/24, not a real host).
pub const GUEST_FORWARD_ADDR: &str = "10.0.2.100";

/// The emulated chipset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Chipset {
    /// q35 (PCIe): virtio NICs on the root bus are named by path, `enp0sN`.
    #[default]
    Q35,
    /// i440fx (`-machine pc`, OpenStack's default for instances): NICs at a PCI slot with
    /// [`Nic::at_slot`] are named `ens<slot>`, as in an OpenStack VM. Disks then sit at fixed
    /// slots from 0x10 on, out of the NICs' way.
    I440fx,
}

/// One network card: where its frames go, its MAC (QEMU's default when `None`), and optionally an
/// SMBIOS type 41 "onboard device" entry with this instance number, which makes udev name it
/// `eno<N>` as on a server's built-in ports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nic {
    pub backend: NicBackend,
    pub mac: Option<String>,
    pub onboard: Option<u32>,
    /// A fixed PCI slot (with [`Chipset::I440fx`]).
    pub slot: Option<u8>,
}

impl Nic {
    /// A NIC on QEMU's user network (the one the port forwards go through).
    pub fn user() -> Self {
        Self {
            backend: NicBackend::User,
            mac: None,
            onboard: None,
            slot: None,
        }
    }

    /// A NIC on the lab segment `port` (see [`NicBackend::Segment`]).
    pub fn segment(port: u16) -> Self {
        Self {
            backend: NicBackend::Segment { port },
            mac: None,
            onboard: None,
            slot: None,
        }
    }

    /// Two NICs joined by a cable of their own (see [`NicBackend::Wire`]), on host UDP ports
    /// `a` and `b`: the first for one machine, the second for the other.
    pub fn wire(a: u16, b: u16) -> (Self, Self) {
        let end = |local, remote| Self {
            backend: NicBackend::Wire { local, remote },
            mac: None,
            onboard: None,
            slot: None,
        };
        (end(a, b), end(b, a))
    }

    /// The same NIC with `mac`.
    pub fn with_mac(mut self, mac: &str) -> Self {
        self.mac = Some(mac.to_string());
        self
    }

    /// The same NIC at PCI slot `slot` of an i440fx machine (named `ens<slot>` by udev).
    pub fn at_slot(mut self, slot: u8) -> Self {
        self.slot = Some(slot);
        self
    }

    /// The same NIC as onboard device `instance` (named `eno<instance>` by udev).
    pub fn onboard(mut self, instance: u32) -> Self {
        self.onboard = Some(instance);
        self
    }
}

/// Where a NIC's frames go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NicBackend {
    /// QEMU's user network (slirp): DHCP, the forwards, `restrict=on` so nothing leaves the host.
    /// A machine has at most one; it carries [`MachineSpec::forwards`] and `guest_forwards`.
    User,
    /// A private Ethernet segment shared by every NIC on the same port: a QEMU socket network,
    /// multicast group 230.0.0.1 on the loopback interface. No DHCP, nothing leaves the host.
    Segment { port: u16 },
    /// One end of a point-to-point cable: a QEMU `dgram` netdev sending to UDP port `remote` on
    /// the loopback and receiving on `local`. Unlike a segment, a frame never comes back to the
    /// NIC that sent it, as on a real switch port: an OVS bond on a segment learns its own
    /// addresses on its active member from the echoes, and drops replies meant for them.
    Wire { local: u16, remote: u16 },
}

/// Where the serial console goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Console {
    /// The terminal, multiplexed with the QEMU monitor (`ctrl-a x` quits, `ctrl-a c` the monitor;
    /// ctrl-c goes to the guest), optionally also written to a log file.
    Terminal { log: Option<PathBuf> },
    /// QEMU's stdout, for the harness to capture; no monitor.
    Stdout,
}

/// Everything that decides the QEMU command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MachineSpec {
    pub name: String,
    pub accel: Accel,
    pub memory_mib: u32,
    pub cpus: u32,
    pub boot: Boot,
    /// In order: with disk boots, the first is the boot disk.
    pub drives: Vec<Drive>,
    /// An iso9660 image in a CD-ROM drive on the q35 AHCI controller.
    pub cdrom: Option<PathBuf>,
    pub forwards: Vec<Forward>,
    /// Guest connections relayed to host loopback ports.
    pub guest_forwards: Vec<GuestForward>,
    pub console: Console,
    /// A unix socket path for QMP (server, no wait).
    pub qmp: Option<PathBuf>,
    /// Exit instead of resetting when the guest reboots.
    pub no_reboot: bool,
    /// The network cards, in PCI order.
    pub nics: Vec<Nic>,
    /// The chipset.
    pub chipset: Chipset,
    /// A unix socket path (server, no wait) for a second serial port, the guest's `ttyS1`.
    pub serial2: Option<PathBuf>,
}

impl MachineSpec {
    /// A machine with the defaults the harness uses: 1 vCPU, 1 GiB, serial to stdout.
    pub fn new(name: &str, accel: Accel, boot: Boot) -> Self {
        Self {
            name: name.to_string(),
            accel,
            memory_mib: 1024,
            cpus: 1,
            boot,
            drives: Vec::new(),
            cdrom: None,
            forwards: Vec::new(),
            guest_forwards: Vec::new(),
            console: Console::Stdout,
            qmp: None,
            no_reboot: false,
            nics: vec![Nic::user()],
            chipset: Chipset::Q35,
            serial2: None,
        }
    }
}

/// The arguments after the QEMU binary.
pub fn qemu_args(spec: &MachineSpec) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::new();
    push(&mut args, &["-name", &format!("plinth-{}", spec.name)]);
    let chipset = match spec.chipset {
        Chipset::Q35 => "q35",
        Chipset::I440fx => "pc",
    };
    push(&mut args, &["-machine", chipset]);
    match spec.accel {
        Accel::Kvm => push(&mut args, &["-accel", "kvm", "-cpu", "host"]),
        Accel::Tcg => push(&mut args, &["-accel", "tcg"]),
    }
    push(&mut args, &["-m", &spec.memory_mib.to_string()]);
    push(&mut args, &["-smp", &spec.cpus.to_string()]);
    push(
        &mut args,
        &["-nodefaults", "-display", "none", "-rtc", "base=utc"],
    );
    match &spec.console {
        Console::Terminal { log } => {
            let mut chardev = OsString::from("stdio,id=con0,mux=on,signal=off");
            if let Some(log) = log {
                chardev.push(",logfile=");
                chardev.push(escape_commas(log));
            }
            args.push("-chardev".into());
            args.push(chardev);
            push(
                &mut args,
                &[
                    "-serial",
                    "chardev:con0",
                    "-mon",
                    "chardev=con0,mode=readline",
                ],
            );
        }
        Console::Stdout => push(&mut args, &["-serial", "stdio", "-monitor", "none"]),
    }
    if let Some(path) = &spec.serial2 {
        let mut chardev = OsString::from("socket,id=serial2,path=");
        chardev.push(escape_commas(path));
        chardev.push(",server=on,wait=off");
        args.push("-chardev".into());
        args.push(chardev);
        push(&mut args, &["-serial", "chardev:serial2"]);
    }
    if spec.no_reboot {
        push(&mut args, &["-no-reboot"]);
    }
    match &spec.boot {
        Boot::Uefi => push(&mut args, &["-bios", OVMF]),
        Boot::Bios => {}
        Boot::Kernel {
            kernel,
            initrd,
            append,
        } => {
            args.push("-kernel".into());
            args.push(kernel.into());
            if let Some(initrd) = initrd {
                args.push("-initrd".into());
                args.push(initrd.clone());
            }
            args.push("-append".into());
            args.push(append.into());
        }
    }
    let disk_boot = matches!(spec.boot, Boot::Uefi | Boot::Bios);
    for (index, drive) in spec.drives.iter().enumerate() {
        let mut value = OsString::from("file=");
        value.push(escape_commas(&drive.path));
        value.push(format!(
            ",format={},if=none,id=disk{index},cache=unsafe{}",
            drive.format.as_str(),
            if drive.read_only { ",readonly=on" } else { "" }
        ));
        args.push("-drive".into());
        args.push(value);
        let boot_index = if disk_boot && index == 0 {
            ",bootindex=0"
        } else {
            ""
        };
        let slot = match spec.chipset {
            Chipset::Q35 => String::new(),
            Chipset::I440fx => format!(",addr={:#x}", 0x10 + index),
        };
        args.push("-device".into());
        let serial = drive
            .serial
            .as_ref()
            .map(|s| format!(",serial={s}"))
            .unwrap_or_default();
        args.push(format!("virtio-blk-pci,drive=disk{index}{boot_index}{slot}{serial}").into());
    }
    if let Some(iso) = &spec.cdrom {
        let mut value = OsString::from("file=");
        value.push(escape_commas(iso));
        value.push(",format=raw,if=none,id=cd0,media=cdrom,readonly=on");
        args.push("-drive".into());
        args.push(value);
        push(&mut args, &["-device", "ide-cd,drive=cd0,bus=ide.0"]);
    }
    for (index, nic) in spec.nics.iter().enumerate() {
        push_nic(&mut args, spec, index, nic);
    }
    args.push("-device".into());
    args.push("virtio-rng-pci".into());
    if let Some(qmp) = &spec.qmp {
        let mut value = OsString::from("unix:");
        value.push(escape_commas(qmp));
        value.push(",server=on,wait=off");
        args.push("-qmp".into());
        args.push(value);
    }
    args
}

/// `-netdev`, `-device` and, for an onboard NIC, `-smbios` for NIC number `index`.
fn push_nic(args: &mut Vec<OsString>, spec: &MachineSpec, index: usize, nic: &Nic) {
    let netdev = match nic.backend {
        NicBackend::User => {
            let mut netdev = format!("user,id=net{index},restrict=on");
            for f in &spec.forwards {
                netdev += &format!(",hostfwd=tcp:127.0.0.1:{}-:{}", f.host, f.guest);
            }
            for f in &spec.guest_forwards {
                netdev += &format!(
                    ",guestfwd=tcp:{GUEST_FORWARD_ADDR}:{}-cmd:busybox nc 127.0.0.1 {}",
                    f.guest, f.host
                );
            }
            netdev
        }
        NicBackend::Segment { port } => {
            format!("socket,id=net{index},mcast=230.0.0.1:{port},localaddr=127.0.0.1")
        }
        NicBackend::Wire { local, remote } => format!(
            "dgram,id=net{index},local.type=inet,local.host=127.0.0.1,local.port={local},\
             remote.type=inet,remote.host=127.0.0.1,remote.port={remote}"
        ),
    };
    push(args, &["-netdev", &netdev]);
    // No option ROM: the firmware need not try to PXE-boot over the emulated NIC. A speed and
    // duplex, as a real port has: without them bonding's 802.3ad keeps every member down
    // ("failed to get link speed/duplex").
    let mut device =
        format!("virtio-net-pci,netdev=net{index},id=nic{index},romfile=,speed=10000,duplex=full");
    if let Some(mac) = &nic.mac {
        device += &format!(",mac={mac}");
    }
    if let Some(slot) = nic.slot {
        device += &format!(",addr={slot:#x}");
    }
    push(args, &["-device", &device]);
    if let Some(instance) = nic.onboard {
        push(
            args,
            &[
                "-smbios",
                &format!(
                    "type=41,designation=Onboard LAN {instance},instance={instance},kind=ethernet,pcidev=nic{index}"
                ),
            ],
        );
    }
}

fn push(args: &mut Vec<OsString>, parts: &[&str]) {
    args.extend(parts.iter().map(OsString::from));
}

/// QEMU option values separate keys with commas; a literal comma in a path is doubled.
fn escape_commas(path: &std::path::Path) -> OsString {
    path.to_string_lossy().replace(',', ",,").into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(spec: &MachineSpec) -> String {
        qemu_args(spec)
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn disk(path: &str, format: DiskFormat, read_only: bool) -> Drive {
        Drive {
            path: path.into(),
            format,
            read_only,
            serial: None,
        }
    }

    #[test]
    fn uefi_boot_uses_ovmf_and_boots_the_first_disk() {
        let mut spec = MachineSpec::new("t", Accel::Tcg, Boot::Uefi);
        spec.drives = vec![
            disk("/d/overlay.qcow2", DiskFormat::Qcow2, false),
            disk("/d/seed.img", DiskFormat::Raw, true),
        ];
        let line = joined(&spec);
        assert!(line.contains("-bios /usr/share/ovmf/OVMF.fd"), "{line}");
        assert!(line.contains(
            "-drive file=/d/overlay.qcow2,format=qcow2,if=none,id=disk0,cache=unsafe -device virtio-blk-pci,drive=disk0,bootindex=0"
        ), "{line}");
        assert!(line.contains(
            "-drive file=/d/seed.img,format=raw,if=none,id=disk1,cache=unsafe,readonly=on -device virtio-blk-pci,drive=disk1 "
        ), "{line}");
        assert!(line.contains("-accel tcg"), "{line}");
        assert!(!line.contains("-kernel"), "{line}");
    }

    #[test]
    fn a_drive_serial_is_given_to_its_device() {
        let mut spec = MachineSpec::new("t", Accel::Tcg, Boot::Uefi);
        let mut data = disk("/d/cv1.raw", DiskFormat::Raw, false);
        data.serial = Some("cinder-1".into());
        spec.drives = vec![disk("/d/overlay.qcow2", DiskFormat::Qcow2, false), data];
        let line = joined(&spec);
        assert!(
            line.contains("-device virtio-blk-pci,drive=disk1,serial=cinder-1"),
            "{line}"
        );
        assert!(!line.contains("drive=disk0,bootindex=0,serial"), "{line}");
    }

    #[test]
    fn bios_boot_uses_the_default_firmware() {
        let spec = MachineSpec::new("t", Accel::Tcg, Boot::Bios);
        let line = joined(&spec);
        assert!(!line.contains("-bios"), "{line}");
        assert!(line.contains("-machine q35"), "{line}");
    }

    #[test]
    fn kernel_boot_passes_kernel_initrd_and_cmdline_as_single_arguments() {
        let spec = MachineSpec::new(
            "pxe",
            Accel::Kvm,
            Boot::Kernel {
                kernel: "/i/vmlinuz".into(),
                initrd: Some("/i/initrd.img".into()),
                append: "console=ttyS0 plinth.slot=a".into(),
            },
        );
        let args = qemu_args(&spec);
        let pos = args.iter().position(|a| a == "-append").unwrap();
        assert_eq!(args[pos + 1], "console=ttyS0 plinth.slot=a");
        let pos = args.iter().position(|a| a == "-initrd").unwrap();
        assert_eq!(args[pos + 1], "/i/initrd.img");
        assert!(joined(&spec).contains("-accel kvm -cpu host"));
    }

    #[test]
    fn kernel_boot_gives_no_disk_a_boot_index() {
        let mut spec = MachineSpec::new(
            "pxe",
            Accel::Tcg,
            Boot::Kernel {
                kernel: "k".into(),
                initrd: None,
                append: String::new(),
            },
        );
        assert!(!joined(&spec).contains("-initrd"));
        spec.drives = vec![disk("/d/seed.img", DiskFormat::Raw, true)];
        assert!(!joined(&spec).contains("bootindex"));
    }

    #[test]
    fn forwards_bind_loopback_only_and_the_guest_is_restricted() {
        let mut spec = MachineSpec::new("t", Accel::Tcg, Boot::Bios);
        spec.forwards = vec![
            Forward {
                host: 40001,
                guest: 9100,
            },
            Forward {
                host: 40002,
                guest: 22,
            },
        ];
        let line = joined(&spec);
        assert!(line.contains(
            "-netdev user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:40001-:9100,hostfwd=tcp:127.0.0.1:40002-:22 "
        ), "{line}");
        spec.guest_forwards = vec![GuestForward {
            guest: 80,
            host: 40003,
        }];
        let line = joined(&spec);
        assert!(
            line.contains(",guestfwd=tcp:10.0.2.100:80-cmd:busybox nc 127.0.0.1 40003 "),
            "{line}"
        );
    }

    #[test]
    fn console_goes_to_stdout_for_the_harness_and_to_the_terminal_interactively() {
        let mut spec = MachineSpec::new("t", Accel::Tcg, Boot::Bios);
        assert!(joined(&spec).contains("-serial stdio -monitor none"));
        spec.console = Console::Terminal { log: None };
        let line = joined(&spec);
        assert!(
            line.contains("-chardev stdio,id=con0,mux=on,signal=off -serial chardev:con0 -mon chardev=con0,mode=readline"),
            "{line}"
        );
        assert!(!line.contains("-monitor none"), "{line}");
        spec.console = Console::Terminal {
            log: Some("/r/console.log".into()),
        };
        assert!(joined(&spec).contains("signal=off,logfile=/r/console.log "));
    }

    #[test]
    fn qmp_socket_and_no_reboot_are_optional() {
        let mut spec = MachineSpec::new("t", Accel::Tcg, Boot::Bios);
        let line = joined(&spec);
        assert!(!line.contains("-qmp") && !line.contains("-no-reboot"));
        spec.qmp = Some("/run dir/q,mp.sock".into());
        spec.no_reboot = true;
        let args = qemu_args(&spec);
        let pos = args.iter().position(|a| a == "-qmp").unwrap();
        assert_eq!(args[pos + 1], "unix:/run dir/q,,mp.sock,server=on,wait=off");
        assert!(args.iter().any(|a| a == "-no-reboot"));
    }

    #[test]
    fn an_iso_goes_in_a_cdrom_drive_on_the_ahci_bus() {
        let mut spec = MachineSpec::new("t", Accel::Tcg, Boot::Uefi);
        assert!(!joined(&spec).contains("cdrom"));
        spec.cdrom = Some("/r/seed.iso".into());
        assert!(joined(&spec).contains(
            "-drive file=/r/seed.iso,format=raw,if=none,id=cd0,media=cdrom,readonly=on -device ide-cd,drive=cd0,bus=ide.0"
        ));
    }

    #[test]
    fn the_default_machine_has_one_user_nic_without_an_option_rom() {
        let line = joined(&MachineSpec::new("t", Accel::Tcg, Boot::Bios));
        assert!(
            line.contains("-netdev user,id=net0,restrict=on -device virtio-net-pci,netdev=net0,id=nic0,romfile=,speed=10000,duplex=full "),
            "{line}"
        );
        assert!(
            !line.contains("socket") && !line.contains("-smbios"),
            "{line}"
        );
    }

    #[test]
    fn a_wire_sends_each_end_to_the_others_port() {
        let (one, other) = Nic::wire(41001, 41002);
        let mut spec = MachineSpec::new("t", Accel::Tcg, Boot::Bios);
        spec.nics = vec![one];
        assert!(
            joined(&spec).contains("-netdev dgram,id=net0,local.type=inet,local.host=127.0.0.1,local.port=41001,remote.type=inet,remote.host=127.0.0.1,remote.port=41002 -device virtio-net-pci,netdev=net0"),
            "{}",
            joined(&spec)
        );
        spec.nics = vec![other.at_slot(4)];
        assert!(
            joined(&spec).contains(
                "local.port=41002,remote.type=inet,remote.host=127.0.0.1,remote.port=41001 "
            ),
            "{}",
            joined(&spec)
        );
    }

    #[test]
    fn segment_nics_share_a_loopback_multicast_group_and_onboard_ones_get_smbios_entries() {
        let mut spec = MachineSpec::new("t", Accel::Tcg, Boot::Bios);
        spec.forwards = vec![Forward {
            host: 40001,
            guest: 9100,
        }];
        spec.nics = vec![
            Nic::segment(41000).with_mac("52:54:00:0c:00:11").onboard(1),
            Nic::user().with_mac("52:54:00:0c:01:11"),
        ];
        let line = joined(&spec);
        assert!(line.contains(
            "-netdev socket,id=net0,mcast=230.0.0.1:41000,localaddr=127.0.0.1 -device virtio-net-pci,netdev=net0,id=nic0,romfile=,speed=10000,duplex=full,mac=52:54:00:0c:00:11 -smbios type=41,designation=Onboard LAN 1,instance=1,kind=ethernet,pcidev=nic0 "
        ), "{line}");
        assert!(line.contains(
            "-netdev user,id=net1,restrict=on,hostfwd=tcp:127.0.0.1:40001-:9100 -device virtio-net-pci,netdev=net1,id=nic1,romfile=,speed=10000,duplex=full,mac=52:54:00:0c:01:11 "
        ), "{line}");
    }

    #[test]
    fn an_i440fx_machine_puts_disks_at_fixed_slots_and_nics_where_asked() {
        let mut spec = MachineSpec::new("t", Accel::Tcg, Boot::Uefi);
        spec.chipset = Chipset::I440fx;
        spec.drives = vec![
            disk("/d/o.qcow2", DiskFormat::Qcow2, false),
            disk("/d/s.img", DiskFormat::Raw, true),
        ];
        spec.nics = vec![Nic::user().at_slot(3), Nic::segment(41000).at_slot(4)];
        let line = joined(&spec);
        assert!(line.contains("-machine pc "), "{line}");
        assert!(
            line.contains("virtio-blk-pci,drive=disk0,bootindex=0,addr=0x10 "),
            "{line}"
        );
        assert!(
            line.contains("virtio-blk-pci,drive=disk1,addr=0x11 "),
            "{line}"
        );
        assert!(
            line.contains("netdev=net0,id=nic0,romfile=,speed=10000,duplex=full,addr=0x3 "),
            "{line}"
        );
        assert!(
            line.contains("netdev=net1,id=nic1,romfile=,speed=10000,duplex=full,addr=0x4 "),
            "{line}"
        );
    }

    #[test]
    fn a_second_serial_port_comes_after_the_console() {
        let mut spec = MachineSpec::new("t", Accel::Tcg, Boot::Bios);
        assert!(!joined(&spec).contains("serial2"));
        spec.serial2 = Some("/r/sh,ell.sock".into());
        let line = joined(&spec);
        assert!(line.contains(
            "-serial stdio -monitor none -chardev socket,id=serial2,path=/r/sh,,ell.sock,server=on,wait=off -serial chardev:serial2 "
        ), "{line}");
    }

    #[test]
    fn memory_and_cpus_are_passed_through() {
        let mut spec = MachineSpec::new("t", Accel::Tcg, Boot::Bios);
        spec.memory_mib = 768;
        spec.cpus = 2;
        let line = joined(&spec);
        assert!(line.contains("-m 768 -smp 2"), "{line}");
    }
}
