//! Host prerequisites: the Debian packages and Rust targets the xtask's commands need.
//!
//! `ensure` checks each one and, when something is missing, installs it if this is a Debian or
//! Ubuntu host and we are root (saying what it installs); anywhere else it prints the exact command
//! to run and fails.

use std::path::Path;
use std::process::Command;

use anyhow::{Result, bail};

use crate::cmd;

/// One thing the host must have.
#[derive(Clone, Copy, Debug)]
pub enum Prereq {
    /// A Debian package; `from_backports` installs it from the host release's `-backports`.
    Deb {
        package: &'static str,
        from_backports: bool,
    },
    /// A rustup target.
    RustTarget(&'static str),
    /// A cargo subcommand (`nextest`), installed with `cargo install --locked cargo-NAME`.
    CargoTool(&'static str),
    /// A Go toolchain for the Kubernetes module: any `go` from 1.21 on, which fetches the one
    /// the module needs through the module proxy when it is older ([`go_toolchain`]); Debian's
    /// `golang-go` from backports when there is none.
    Go,
}

use Prereq::{CargoTool, Deb, Go, RustTarget};

/// The oldest Go that builds the pinned Kubernetes (its go.mod says `go 1.25.0`).
const GO_NEEDED: (u32, u32) = (1, 25);
/// The toolchain fetched (`GOTOOLCHAIN`) when the host's Go is older than [`GO_NEEDED`].
const GO_TOOLCHAIN: &str = "go1.26.8";

/// A Debian package from the host's main release.
const fn deb(package: &'static str) -> Prereq {
    Deb {
        package,
        from_backports: false,
    }
}

/// What `cargo xtask test` needs beyond the Rust toolchain: `unshare` for the PID-namespace tests,
/// the musl target for the static PID 1 (and `musl-gcc`, which ring's C code needs for the
/// agent's certificates), and a DHCP server and client (dnsmasq, dhcpcd) for the
/// network-namespace test of the image's dhcpcd hook that hands DHCP-provided NTP servers to chrony;
/// libvirt's headers and library (`libvirt-dev`) for `plinth-virt-check`, which links the C libvirt,
/// and Debian's libvirt daemons (`libvirt-daemon`: `virtqemud` with the QEMU driver, not the
/// `-system` package, which would start a libvirtd of its own on the host) for its test against a
/// real daemon the test starts on a private socket; Debian's Open vSwitch (`openvswitch-switch`:
/// `ovsdb-server`, `ovsdb-tool` and the vswitch schema) for the host-mode OVSDB apply's test
/// against a real ovsdb-server in a temporary directory.
pub const TEST: [Prereq; 9] = [
    CargoTool("nextest"),
    deb("util-linux"),
    RustTarget("x86_64-unknown-linux-musl"),
    deb("musl-tools"),
    deb("dnsmasq-base"),
    deb("dhcpcd-base"),
    deb("libvirt-dev"),
    deb("libvirt-daemon"),
    deb("openvswitch-switch"),
];

/// What `cargo xtask image` needs: mkosi 24+ and bubblewrap (from backports on Debian 12) for the
/// Debian tree, squashfs-tools for the root, mtools, dosfstools and syslinux for the ESP without
/// loop mounts, sfdisk for the GPT, systemd-boot-efi's stub and objcopy for the UKI, Go for the
/// Kubernetes binary.
pub const IMAGE: [Prereq; 14] = [
    Go,
    deb("musl-tools"),
    Deb {
        package: "mkosi",
        from_backports: true,
    },
    Deb {
        package: "bubblewrap",
        from_backports: true,
    },
    deb("debian-archive-keyring"),
    deb("squashfs-tools"),
    deb("mtools"),
    deb("dosfstools"),
    deb("fdisk"),
    deb("syslinux"),
    deb("syslinux-common"),
    deb("systemd-boot-efi"),
    deb("binutils"),
    RustTarget("x86_64-unknown-linux-musl"),
];

/// Joins two prerequisite lists at compile time.
const fn concat<const A: usize, const B: usize, const N: usize>(
    a: [Prereq; A],
    b: [Prereq; B],
) -> [Prereq; N] {
    assert!(A + B == N, "concat: N must be A + B");
    let mut out = [RustTarget(""); N];
    let mut i = 0;
    while i < A {
        out[i] = a[i];
        i += 1;
    }
    while i < N {
        out[i] = b[i - A];
        i += 1;
    }
    out
}

/// What `cargo xtask qemu|run` and the qemu-tests need: QEMU with SeaBIOS, OVMF for UEFI boots,
/// `qemu-img` for the disk overlays, mtools/dosfstools and genisoimage for NoCloud seeds, busybox
/// (its `nc`) for the relay of the config-URL test's guest forward — the static build, which the
/// boot bench's floor also needs and which Debian will not install beside the dynamic one.
///
/// QEMU comes from backports: this kind of machine ships `qemu-utils` 10.x from bookworm-backports,
/// and bookworm's own `qemu-system-x86` 7.2 cannot be installed beside it.
pub const QEMU: [Prereq; 7] = [
    Deb {
        package: "qemu-system-x86",
        from_backports: true,
    },
    deb("ovmf"),
    Deb {
        package: "qemu-utils",
        from_backports: true,
    },
    deb("mtools"),
    deb("dosfstools"),
    deb("genisoimage"),
    deb("busybox-static"),
];

/// What `cargo xtask bench boot` needs beyond [`QEMU`] and [`IMAGE`]: cpio and unsquashfs to take
/// the root and the modules out of the PXE set, xz to decompress the modules the floor loads.
pub const BENCH: [Prereq; 3] = [deb("cpio"), deb("squashfs-tools"), deb("xz-utils")];

const TEST_AND_IMAGE: [Prereq; TEST.len() + IMAGE.len()] = concat(TEST, IMAGE);

const TEST_IMAGE_QEMU: [Prereq; TEST_AND_IMAGE.len() + QEMU.len()] = concat(TEST_AND_IMAGE, QEMU);

/// Everything any command needs.
pub const ALL: [Prereq; TEST_IMAGE_QEMU.len() + BENCH.len()] = concat(TEST_IMAGE_QEMU, BENCH);

/// Makes sure every prerequisite is present, installing what is missing when possible.
pub fn ensure(prereqs: &[Prereq]) -> Result<std::process::ExitCode> {
    let missing_debs: Vec<&Prereq> = prereqs
        .iter()
        .filter(|p| matches!(p, Deb { package, .. } if !deb_installed(package)))
        .collect();
    let missing_targets: Vec<&str> = prereqs
        .iter()
        .filter_map(|p| match p {
            RustTarget(t) if !rust_target_installed(t) => Some(*t),
            _ => None,
        })
        .collect();
    let golang = Deb {
        package: "golang-go",
        from_backports: true,
    };
    let mut missing_debs = missing_debs;
    if prereqs.iter().any(|p| matches!(p, Go)) && go_version().is_none_or(|v| v < (1, 21)) {
        eprintln!(
            "xtask: no Go 1.21+ on PATH: installing Debian's golang-go, which fetches Go {GO_TOOLCHAIN} itself"
        );
        missing_debs.push(&golang);
    }
    if !missing_debs.is_empty() {
        install_debs(&missing_debs)?;
    }
    for tool in prereqs.iter().filter_map(|p| match p {
        CargoTool(t) if !cargo_tool_installed(t) => Some(*t),
        _ => None,
    }) {
        eprintln!(
            "xtask: installing cargo-{tool} (`cargo install --locked cargo-{tool}`, a few minutes)"
        );
        cmd::run(Command::new("cargo").args(["install", "--locked", &format!("cargo-{tool}")]))?;
    }
    for target in missing_targets {
        eprintln!("xtask: installing the Rust target {target} (needed for the static PID 1)");
        cmd::run(Command::new("rustup").args(["target", "add", target]))?;
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// The `GOTOOLCHAIN` the Kubernetes build needs: `None` when the host's Go is new enough,
/// else the toolchain to fetch.
pub fn go_toolchain() -> Option<&'static str> {
    go_version()
        .is_none_or(|v| v < GO_NEEDED)
        .then_some(GO_TOOLCHAIN)
}

/// `(major, minor)` of the `go` on PATH, without switching toolchains.
fn go_version() -> Option<(u32, u32)> {
    let out = Command::new("go")
        .args(["env", "GOVERSION"])
        .env("GOTOOLCHAIN", "local")
        .output()
        .ok()?;
    parse_go_version(&String::from_utf8_lossy(&out.stdout))
}

/// `go1.26.8` → `(1, 26)`.
fn parse_go_version(text: &str) -> Option<(u32, u32)> {
    let mut parts = text.trim().strip_prefix("go")?.split(['.', '-', ' ']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

fn cargo_tool_installed(tool: &str) -> bool {
    Command::new("cargo")
        .args([tool, "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn deb_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

fn rust_target_installed(target: &str) -> bool {
    Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.trim() == target)
        })
        .unwrap_or(false)
}

/// The host's Debian codename (`bookworm`, `trixie`, …), if this is Debian or Ubuntu.
fn debian_codename() -> Option<String> {
    let os_release = std::fs::read_to_string("/etc/os-release").ok()?;
    let field = |key: &str| {
        os_release.lines().find_map(|l| {
            l.strip_prefix(key)?
                .strip_prefix('=')
                .map(|v| v.trim_matches('"').to_string())
        })
    };
    let id = field("ID")?;
    let like = field("ID_LIKE").unwrap_or_default();
    (id == "debian" || id == "ubuntu" || like.contains("debian"))
        .then(|| field("VERSION_CODENAME"))?
}

fn install_debs(missing: &[&Prereq]) -> Result<()> {
    let names = |backports: bool| -> Vec<&str> {
        missing
            .iter()
            .filter_map(|p| match p {
                Deb {
                    package,
                    from_backports,
                } if *from_backports == backports => Some(*package),
                _ => None,
            })
            .collect()
    };
    let (main, backports) = (names(false), names(true));
    let codename = debian_codename();
    let is_root = rustix::process::geteuid().is_root();
    let Some(codename) = codename.filter(|_| is_root) else {
        let mut advice = String::from("missing host packages; install them with:\n");
        if !main.is_empty() {
            advice += &format!("  sudo apt-get install -y {}\n", main.join(" "));
        }
        if !backports.is_empty() {
            advice += &format!(
                "  sudo apt-get install -y -t <release>-backports {}\n",
                backports.join(" ")
            );
        }
        bail!("{advice}then run the command again");
    };
    eprintln!(
        "xtask: installing missing host packages: {}",
        [main.clone(), backports.clone()].concat().join(" ")
    );
    if !backports.is_empty() {
        enable_backports(&codename)?;
    }
    cmd::run(Command::new("apt-get").args(["update", "-q"]))?;
    let apt_install = |extra: &[&str], packages: &[&str]| {
        cmd::run(
            Command::new("apt-get")
                .env("DEBIAN_FRONTEND", "noninteractive")
                .args(["install", "-y", "-q", "--no-install-recommends"])
                .args(extra)
                .args(packages),
        )
    };
    if !main.is_empty() {
        apt_install(&[], &main)?;
    }
    if !backports.is_empty() {
        let release = format!("{codename}-backports");
        apt_install(&["-t", &release], &backports)?;
    }
    Ok(())
}

/// Adds `<codename>-backports` as its own apt source file, unless it is there already.
fn enable_backports(codename: &str) -> Result<()> {
    let path = Path::new("/etc/apt/sources.list.d/plinth-backports.list");
    if path.exists() {
        return Ok(());
    }
    let line = format!(
        "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian {codename}-backports main\n"
    );
    eprintln!("xtask: enabling {codename}-backports in {}", path.display());
    std::fs::write(path, line)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_versions_parse() {
        assert_eq!(parse_go_version("go1.26.8\n"), Some((1, 26)));
        assert_eq!(parse_go_version("go1.23"), Some((1, 23)));
        assert_eq!(parse_go_version("go1.25rc1"), None);
        assert_eq!(parse_go_version("devel"), None);
    }
}
