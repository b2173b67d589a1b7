//! The bench's systemd variant: Plinth's Debian tree with systemd 257 as Debian ships it, running
//! the same daemons as the floor, booted from the same kernel by the same initramfs
//! ([`super::baseline`]).
//!
//! The root is a second mkosi build of `image/` in which `systemd` and `systemd-sysv` take the
//! place of `systemd-standalone-sysusers` (which conflicts with them), with Plinth's pruned kernel
//! modules in place of its own, packed as the `--dev` image is (lz4). It is cached under
//! `target/bench/systemd/` by the recipe's key, so only the first bench run pays for it (1–3
//! minutes of mkosi).
//!
//! PID 1 is `/lib/systemd/systemd --unit=plinth-bench.target`: `basic.target` as Debian ships it,
//! plus udev's own units (settle included), `chrony.service` and
//! `prometheus-node-exporter.service` from their Debian packages, dhcpcd as the floor runs it
//! (Plinth's tree has `dhcpcd-base`, which ships no unit), and `plinth-bench-ready.service`, the
//! bench's ready check after udev has settled. The machine-id is fixed, so it is not a first boot
//! for systemd (no `systemd-firstboot` prompt); Plinth's first-boot work is its own.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use super::baseline::{self, InitFile, InitModules, ROOT_EXTRA};
use crate::cmd;
use crate::image::rootfs::{self, Compression};
use crate::image::{inputs, tree};

/// The label of the variant's ready line and its console markers.
pub const SAYS: (&str, qemu_tests::timeline::Markers) = (
    LABEL,
    qemu_tests::timeline::Markers {
        pid1_start: baseline::INIT_MARKER,
        ready: r"systemd-bench: ready",
    },
);
const LABEL: &str = "systemd-bench";

/// The target PID 1 boots into.
const TARGET: &str = "plinth-bench.target";

/// What PID 1 is after switch_root.
pub const PID1: &str = "/lib/systemd/systemd --unit=plinth-bench.target";

/// The package Plinth's tree has in systemd's place, and what replaces it here.
const STANDALONE: &str = "systemd-standalone-sysusers";
const WITH_SYSTEMD: [&str; 2] = ["systemd", "systemd-sysv"];

/// Bump when this file changes what goes into the root (not the units: those are in the initrd).
const RECIPE: &str = "plinth-bench-systemd-1";

/// `image/mkosi.conf.d/10-packages.conf` with systemd in the standalone sysusers' place.
pub fn with_systemd(packages_conf: &str) -> Result<String> {
    let mut found = false;
    let out: Vec<String> = packages_conf
        .lines()
        .map(|line| {
            if line.trim() == STANDALONE {
                found = true;
                let indent = &line[..line.len() - line.trim_start().len()];
                WITH_SYSTEMD
                    .iter()
                    .map(|p| format!("{indent}{p}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            } else {
                line.to_string()
            }
        })
        .collect();
    if !found {
        bail!("the package list no longer names {STANDALONE}: update the bench's systemd variant");
    }
    Ok(out.join("\n") + "\n")
}

/// The units and files the variant adds to the root.
pub fn root_files() -> Vec<InitFile> {
    let unit = |name: &str, text: &str| InitFile {
        path: format!("{ROOT_EXTRA}/etc/systemd/system/{name}"),
        mode: 0o644,
        contents: text.to_string(),
    };
    vec![
        unit(
            TARGET,
            "[Unit]\n\
             Description=Plinth boot bench: the floor's daemons under systemd\n\
             Requires=basic.target\n\
             After=basic.target\n\
             Wants=systemd-udevd.service systemd-udev-trigger.service systemd-udev-settle.service \
             plinth-bench-dhcpcd.service chrony.service prometheus-node-exporter.service \
             plinth-bench-ready.service\n\
             AllowIsolate=yes\n",
        ),
        unit(
            "plinth-bench-dhcpcd.service",
            "[Unit]\n\
             Description=dhcpcd on every interface, as the floor runs it\n\
             [Service]\n\
             ExecStart=/usr/sbin/dhcpcd -B --noarp --nodelay\n",
        ),
        unit(
            "plinth-bench-ready.service",
            "[Unit]\n\
             Description=The boot bench's ready check\n\
             After=systemd-udev-settle.service\n\
             [Service]\n\
             Type=oneshot\n\
             ExecStart=/usr/bin/busybox sh /etc/plinth-bench/ready.sh\n",
        ),
        InitFile {
            path: format!("{ROOT_EXTRA}/etc/plinth-bench/ready.sh"),
            mode: 0o755,
            contents: format!(
                "b=/usr/bin/busybox\nexec >/dev/console 2>&1\n{}",
                baseline::ready_check(LABEL)
            ),
        },
        // Not a first boot: systemd-firstboot and its prompts stay out of the measurement.
        InitFile {
            path: format!("{ROOT_EXTRA}/etc/machine-id"),
            mode: 0o444,
            contents: "b0075e1f0000400080000000000000bb\n".into(),
        },
        // Nor the first boot after an update of /usr: without this stamp (`ConditionNeedsUpdate`)
        // systemd rebuilds the hwdb, the ld.so cache and the journal catalog, as a Debian
        // install does once, not on every boot.
        InitFile {
            path: format!("{ROOT_EXTRA}/etc/.updated"),
            mode: 0o644,
            contents: String::new(),
        },
        InitFile {
            path: format!("{ROOT_EXTRA}/var/.updated"),
            mode: 0o644,
            contents: String::new(),
        },
    ]
}

/// Builds (or reuses) the variant's root squashfs and returns its path. `image_dir` is `image/`,
/// `plinth_tree` the prepared Plinth tree (its kernel modules are taken) and `plinth_key` that
/// tree's key, `work` `target/bench/systemd`.
pub fn ensure_root(
    image_dir: &Path,
    (plinth_tree, plinth_key): (&Path, &str),
    kver: &str,
    work: &Path,
) -> Result<PathBuf> {
    let recipe = work.join("recipe");
    let _ = std::fs::remove_dir_all(&recipe);
    std::fs::create_dir_all(recipe.join("mkosi.conf.d"))?;
    std::fs::copy(image_dir.join("mkosi.conf"), recipe.join("mkosi.conf"))?;
    for dir in ["mkosi.extra", "mkosi.pkgmngr"] {
        cmd::run(&mut cmd::cmd(
            "cp",
            [
                "-a".as_ref(),
                image_dir.join(dir).as_os_str(),
                recipe.as_os_str(),
            ],
        ))?;
    }
    let packages = image_dir.join("mkosi.conf.d/10-packages.conf");
    let text = std::fs::read_to_string(&packages)
        .with_context(|| format!("reading {}", packages.display()))?;
    std::fs::write(
        recipe.join("mkosi.conf.d/10-packages.conf"),
        with_systemd(&text)?,
    )?;
    let mkosi = cmd::output(&mut cmd::cmd("mkosi", ["--version"]))
        .context("mkosi is missing: run `cargo xtask prereqs`")?;
    let key = format!(
        "{RECIPE} {kver} {} modules of {}",
        inputs::tree_key(&recipe, &mkosi)?,
        plinth_key.trim()
    );
    let squashfs = work.join("rootfs.squashfs");
    let key_file = work.join("rootfs.key");
    if squashfs.is_file()
        && std::fs::read_to_string(&key_file)
            .unwrap_or_default()
            .trim()
            == key
    {
        eprintln!("bench: reusing the systemd root {}", squashfs.display());
        return Ok(squashfs);
    }
    let _ = std::fs::remove_file(&key_file);
    let started = Instant::now();
    eprintln!(
        "bench: building the systemd variant's root (Plinth's tree with systemd; once, 1-3 minutes)"
    );
    let out = work.join("out");
    tree::build(&recipe, work, &out)?;
    let root = out.join("tree");
    // Plinth's kernel boots both: its pruned modules replace the tree's own.
    let modules = root.join("usr/lib/modules");
    std::fs::remove_dir_all(&modules).with_context(|| format!("removing {}", modules.display()))?;
    cmd::run(&mut cmd::cmd(
        "cp",
        [
            "-a".as_ref(),
            plinth_tree.join("usr/lib/modules").as_os_str(),
            root.join("usr/lib").as_os_str(),
        ],
    ))?;
    rootfs::pack(&root, &squashfs, Compression::Dev, kver)?;
    std::fs::remove_dir_all(&out)?;
    std::fs::write(&key_file, format!("{key}\n"))?;
    eprintln!(
        "bench: systemd root ready in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    Ok(squashfs)
}

/// The variant's initrd in `scratch`: its root, the shared initramfs and the units.
pub fn initrd(root: &Path, modules: &InitModules, scratch: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(scratch)?;
    baseline::write_initrd(
        &scratch.join("systemd-initrd.img"),
        Some(root),
        modules,
        PID1,
        &root_files(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemd_takes_the_standalone_sysusers_place_and_nothing_else_changes() {
        let conf = "[Content]\nPackages=\n        linux-image-amd64\n        systemd-standalone-sysusers\n        udev\n";
        assert_eq!(
            with_systemd(conf).unwrap(),
            "[Content]\nPackages=\n        linux-image-amd64\n        systemd\n        systemd-sysv\n        udev\n"
        );
        assert!(with_systemd("[Content]\nPackages=\n        udev\n").is_err());
    }

    #[test]
    fn the_real_package_list_still_has_the_line_to_replace() {
        let conf = std::fs::read_to_string(
            crate::cmd::workspace_root().join("image/mkosi.conf.d/10-packages.conf"),
        )
        .unwrap();
        assert!(
            with_systemd(&conf)
                .unwrap()
                .contains("        systemd-sysv\n")
        );
    }

    #[test]
    fn the_target_starts_the_floors_daemons_and_the_ready_check_after_settle() {
        let files = root_files();
        let text = |name: &str| {
            &files
                .iter()
                .find(|f| f.path.ends_with(name))
                .unwrap()
                .contents
        };
        let target = text(TARGET);
        for unit in [
            "systemd-udev-settle.service",
            "plinth-bench-dhcpcd.service",
            "chrony.service",
            "prometheus-node-exporter.service",
            "plinth-bench-ready.service",
        ] {
            assert!(target.contains(unit), "{unit}");
        }
        assert!(text("plinth-bench-ready.service").contains("After=systemd-udev-settle.service"));
        assert!(text("ready.sh").contains("systemd-bench: ready"));
        assert!(PID1.ends_with(&format!("--unit={TARGET}")));
        assert_eq!(text("machine-id").trim().len(), 32);
    }
}
