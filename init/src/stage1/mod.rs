//! Stage 1: `plinth-init` as PID 1 inside the initramfs. It mounts the pseudo filesystems, loads
//! the few modules needed to reach the root, finds and mounts the read-only root (the active
//! slot's partition, or the squashfs the PXE initrd unpacked), finds or creates the state
//! partition, lays the writable `/etc` and `/var` overlays on it, keeps `/etc/machine-id`, moves
//! /proc, /sys and /dev and switches into the real root, exec'ing `/sbin/init` (stage 2).
//!
//! Every step prints one console line. Nothing here panics the kernel: a failure prints what
//! was looked for and what was found and keeps PID 1 alive.
//!
//! Layout it relies on: the initramfs holds the marker [`MARKER`], the module list
//! [`MODULE_LIST`] and `/usr/lib/modules/<release>/modules.dep` with the module files; the root
//! has the mount point [`STATE_MOUNT`], under which `etc/{upper,work}` and `var/{upper,work}`
//! (and `opt`, `root`) hold the overlays' writable layers;
//! `/etc/machine-id` and the iSCSI initiator name are made there once per node;
//! `/tmp` is a tmpfs.

pub mod blockdev;
pub mod cmdline;
pub mod console;
pub mod guard;
pub mod hardware;
pub mod iscsi_name;
pub mod machine_id;
pub mod modules;
pub mod mounts;
pub mod root;
pub mod state;
pub mod state_plan;

use std::convert::Infallible;
use std::path::Path;
use std::time::Instant;

use nix::mount::MsFlags;

use self::console::{halt, step};
use self::root::RootChoice;

/// Present only in Plinth's initramfs: its existence (with PID 1) selects stage 1.
pub const MARKER: &str = "/plinth-initrd";
/// The modules stage 1 may load, one name per line, in order; a leading `?` marks one loaded
/// only when no root appears without it.
pub const MODULE_LIST: &str = "/usr/lib/plinth/stage1-modules";
/// Where the real root is assembled before the switch.
const SYSROOT: &str = "/sysroot";
/// Where the state filesystem is mounted in the real root.
pub const STATE_MOUNT: &str = "/state";
/// Directories of the read-only root made writable by an overlay whose upper layer is
/// `STATE_MOUNT/<dir>/upper` (so it persists with the state partition): config, variable data,
/// `/opt` (CNI plugins, the node exporter's textfile directory) and root's home.
pub const OVERLAID: [&str; 4] = ["etc", "var", "opt", "root"];
/// Overlaid like [`OVERLAID`], but a node boots without them (a warning, not a halt): `/usr/local`,
/// where Kube-OVN's cni-server installs `kubectl-ko` (kube-ovn#2707: it fails on a read-only
/// `/usr/local/bin`).
pub const OVERLAID_OPTIONAL: [&str; 1] = ["usr/local"];
/// Data directories under `/var` bind-mounted straight from `STATE_MOUNT/data/<name>` over the
/// `/var` overlay: they hold overlay filesystems or databases of their own, and an overlayfs
/// cannot be the upper layer of another (containerd's snapshots), nor should a database pay for
/// copy-up. etcd, containerd, the kubelet and Longhorn keep their data there.
pub const DATA_DIRS: [(&str, &str); 4] = [
    ("etcd", "var/lib/etcd"),
    ("containerd", "var/lib/containerd"),
    ("kubelet", "var/lib/kubelet"),
    ("longhorn", "var/lib/longhorn"),
];

/// Whether this process is stage 1: PID 1 in Plinth's initramfs.
pub fn is_stage1() -> bool {
    std::process::id() == 1 && Path::new(MARKER).exists()
}

/// Runs stage 1 to the exec of stage 2, never returning; a panic is said on the console and the
/// machine reboots (`guard`), so PID 1 never exits.
pub fn run_guarded() -> Infallible {
    guard::guarded(run, guard::reboot_after_panic)
}

/// Runs stage 1 to the exec of stage 2; never returns.
pub fn run() -> Infallible {
    step(&format!(
        "plinth-init {} starting",
        env!("CARGO_PKG_VERSION")
    ));
    if let Err(e) = mounts::mount_pseudo() {
        halt(
            "mounting the pseudo filesystems",
            "/proc, /sys, /dev",
            &e.to_string(),
        );
    }
    crate::pid1::fault::inject(crate::pid1::fault::Fault::Stage1Panic);
    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
    let args = cmdline::parse(&cmdline);
    step(&format!(
        "mounted /proc /sys /dev; slot {:?}, root wait {}s{}",
        args.slot,
        args.root_wait.as_secs(),
        if args.state_in_ram {
            ", state in RAM"
        } else {
            ""
        }
    ));
    for word in &args.unknown {
        step(&format!("ignoring invalid {word}"));
    }
    let unloaded = load_modules();
    let (root_dev, boot_disk) = find_root(&args, unloaded);
    if let Err(e) = mounts::mount_fs(&root_dev, SYSROOT, "squashfs", MsFlags::MS_RDONLY, None) {
        halt(
            "mounting the root read-only",
            &format!("a squashfs on {root_dev}"),
            &e.to_string(),
        );
    }
    step(&format!("mounted root {root_dev} read-only on {SYSROOT}"));
    setup_state(&args, boot_disk.as_ref());
    let state_dir = format!("{SYSROOT}{STATE_MOUNT}");
    for dir in OVERLAID {
        let target = format!("{SYSROOT}/{dir}");
        if let Err(e) = mounts::overlay(&target, &target, &format!("{state_dir}/{dir}")) {
            halt(
                &format!("the writable /{dir}"),
                "an overlay on the state filesystem",
                &e.to_string(),
            );
        }
    }
    for dir in OVERLAID_OPTIONAL {
        let target = format!("{SYSROOT}/{dir}");
        if let Err(e) = mounts::overlay(&target, &target, &format!("{state_dir}/{dir}")) {
            step(&format!("warning: /{dir} stays read-only: {e}"));
        }
    }
    step("/etc, /var, /opt, /root and /usr/local are writable overlays on the state filesystem");
    for (name, dir) in DATA_DIRS {
        let from = format!("{state_dir}/data/{name}");
        let to = format!("{SYSROOT}/{dir}");
        let made = std::fs::create_dir_all(&from).and_then(|()| std::fs::create_dir_all(&to));
        if let Err(e) = made
            .map_err(|e| e.to_string())
            .and_then(|()| mounts::bind(&from, &to).map_err(|e| e.to_string()))
        {
            // The overlaid /var still works for them, only slower (and not for containerd).
            step(&format!(
                "warning: /{dir} is not bound from the state filesystem: {e}"
            ));
        }
    }
    step("/var/lib/{etcd,containerd,kubelet,longhorn} are bound from the state filesystem");
    let tmp = format!("{SYSROOT}/tmp");
    if let Err(e) = mounts::mount_fs(
        "tmpfs",
        &tmp,
        "tmpfs",
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=1777"),
    ) {
        step(&format!("warning: no tmpfs on /tmp: {e}"));
    }
    match machine_id::ensure(Path::new(&format!("{SYSROOT}/etc/machine-id"))) {
        Ok(machine_id::MachineId::Kept(id)) => step(&format!("machine-id {id} (kept)")),
        Ok(machine_id::MachineId::Generated(id)) => step(&format!("machine-id {id} (generated)")),
        Err(e) => step(&format!("warning: /etc/machine-id: {e}")),
    }
    let iscsi = format!("{SYSROOT}/etc/iscsi/initiatorname.iscsi");
    // No randomness, no name: all-zero bytes would give every such node the same initiator.
    let ensured = machine_id::random_bytes().and_then(|random| {
        iscsi_name::ensure(
            Path::new(&iscsi),
            std::array::from_fn(|i| random.get(i).copied().unwrap_or_default()),
        )
    });
    match ensured {
        Ok((name, true)) => step(&format!("iSCSI initiator {name} (generated)")),
        Ok((name, false)) => step(&format!("iSCSI initiator {name} (kept)")),
        Err(e) => step(&format!("warning: {iscsi}: {e}")),
    }
    // Everything stage 1 wrote to the state filesystem reaches the disk before stage 2 runs.
    nix::unistd::sync();
    free_initramfs();
    for dir in ["/dev", "/proc", "/sys"] {
        if let Err(e) = mounts::move_mount(dir, &format!("{SYSROOT}{dir}")) {
            halt(
                "moving the pseudo filesystems",
                &format!("{SYSROOT}{dir}"),
                &e.to_string(),
            );
        }
    }
    step(&format!(
        "exec /sbin/init (stage 2) after {:.3}s in stage 1",
        console::uptime().as_secs_f64()
    ));
    let err = match mounts::switch_root(SYSROOT, "/sbin/init", &["/sbin/init".to_string()]) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    halt(
        "switching to the real root",
        "/sbin/init in the root",
        &err.to_string(),
    )
}

/// The initramfs's modules: their directory, `modules.dep` text, and the list of wanted names.
struct ModuleSet {
    dir: String,
    dep: String,
    wanted: Vec<String>,
}

fn module_set() -> Option<ModuleSet> {
    let release = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = format!("/usr/lib/modules/{release}");
    let dep = match std::fs::read_to_string(format!("{dir}/modules.dep")) {
        Ok(dep) => dep,
        Err(e) => {
            step(&format!(
                "warning: no {dir}/modules.dep ({e}); loading no modules"
            ));
            return None;
        }
    };
    let wanted = std::fs::read_to_string(MODULE_LIST)
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    Some(ModuleSet { dir, dep, wanted })
}

/// Loads the modules this machine's devices need (see `hardware`); returns the wanted modules
/// it left out, for [`find_root`] to load when no root shows up without them.
fn load_modules() -> Vec<String> {
    let Some(set) = module_set() else {
        return Vec::new();
    };
    let aliases = std::fs::read_to_string(format!("{}/modules.alias", set.dir)).unwrap_or_default();
    let devices = hardware::modaliases(Path::new("/sys/bus"));
    let (later, primary): (Vec<String>, Vec<String>) =
        set.wanted.iter().cloned().partition(|w| w.starts_with('?'));
    let chosen = if aliases.is_empty() {
        primary.clone()
    } else {
        hardware::select(&primary, &aliases, &set.dep, &devices)
    };
    let rest: Vec<String> = primary
        .iter()
        .filter(|w| !chosen.contains(w))
        .cloned()
        .chain(later.iter().map(|w| w.trim_start_matches('?').to_string()))
        .collect();
    load_named(&set, &chosen, &format!("for {} devices", devices.len()));
    rest
}

/// Loads `names` and their dependencies, printing one line.
fn load_named(set: &ModuleSet, names: &[String], why: &str) {
    let started = Instant::now();
    let order = match plinth_kmod::ModulesDep::parse(&set.dep).load_order(names) {
        Ok(order) => order,
        Err(e) => {
            step(&format!("warning: {e}; loading no modules"));
            return;
        }
    };
    let moddir = &set.dir;
    let (mut loaded, mut refused, mut slow) = (0, Vec::new(), Vec::new());
    for path in &order {
        let one = Instant::now();
        let result = modules::load(Path::new(&format!("{moddir}/{path}")));
        if one.elapsed().as_millis() >= 200 {
            slow.push(format!(
                "{} {} ms",
                plinth_kmod::module_name(path),
                one.elapsed().as_millis()
            ));
        }
        match result {
            Ok(modules::Loaded::Loaded | modules::Loaded::AlreadyThere) => loaded += 1,
            Ok(modules::Loaded::Refused(errno)) => {
                refused.push(format!("{} ({errno})", plinth_kmod::module_name(path)));
            }
            Err(e) => refused.push(e.to_string()),
        }
    }
    step(&format!(
        "loaded {loaded} modules {why} in {} ms{}{}",
        started.elapsed().as_millis(),
        if slow.is_empty() {
            String::new()
        } else {
            format!(" (slowest: {})", slow.join(", "))
        },
        if refused.is_empty() {
            String::new()
        } else {
            format!("; refused: {}", refused.join(", "))
        }
    ));
}

/// Waits for the root and returns the device to mount and the boot disk (none for PXE).
fn find_root(
    args: &cmdline::Stage1Args,
    mut unloaded: Vec<String>,
) -> (String, Option<blockdev::BlockDev>) {
    let started = Instant::now();
    // Hardware the alias match missed: after this long without a root, load the rest too.
    let fallback_after = args.root_wait.min(std::time::Duration::from_secs(3));
    let sys = Path::new("/sys/class/block");
    let (choice, devs) = loop {
        let devs = blockdev::scan(sys);
        match root::choose(args.slot, mounts::exists(root::PXE_IMAGE), &devs) {
            Ok(choice) => break (choice, devs),
            Err(e) if started.elapsed() >= args.root_wait => halt(
                &format!("no root after {}s: {e}", args.root_wait.as_secs()),
                &format!(
                    "a partition named \"{}\" or {}",
                    args.slot.partition_name(),
                    root::PXE_IMAGE
                ),
                &blockdev::describe_all(&devs),
            ),
            Err(_) if !unloaded.is_empty() && started.elapsed() >= fallback_after => {
                if let Some(set) = module_set() {
                    load_named(
                        &set,
                        &unloaded,
                        "left out by the hardware match, as no root appeared",
                    );
                }
                unloaded.clear();
            }
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(100)),
        }
    };
    match choice {
        RootChoice::Image(path) => match mounts::attach_loop(&path) {
            Ok(dev) => {
                step(&format!("root: {path} from the PXE initrd on {dev}"));
                (dev, None)
            }
            Err(e) => halt("attaching the root image", &path, &e.to_string()),
        },
        RootChoice::Partition(part) => {
            let disk = devs
                .iter()
                .find(|d| Some(&d.name) == part.disk.as_ref())
                .cloned();
            step(&format!(
                "root: {} on disk {} after {} ms",
                part.describe(),
                part.disk.as_deref().unwrap_or("?"),
                started.elapsed().as_millis()
            ));
            let node = format!("/dev/{}", part.name);
            let deadline = Instant::now() + std::time::Duration::from_secs(5);
            while !mounts::exists(&node) && Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            (node, disk)
        }
    }
}

/// Mounts the state filesystem on the root's [`STATE_MOUNT`]: found by label, else created on
/// the boot disk's free space, else a tmpfs (state in RAM).
fn setup_state(args: &cmdline::Stage1Args, boot_disk: Option<&blockdev::BlockDev>) {
    let target = format!("{SYSROOT}{STATE_MOUNT}");
    let ram = |why: &str| {
        step(&format!("state in RAM: {why}"));
        if let Err(e) = mounts::mount_fs(
            "tmpfs",
            &target,
            "tmpfs",
            MsFlags::MS_NOSUID,
            Some("mode=0755"),
        ) {
            halt("mounting the RAM state", &target, &e.to_string());
        }
    };
    if args.state_in_ram {
        return ram("plinth.state=ram on the command line");
    }
    let devs = blockdev::scan(Path::new("/sys/class/block"));
    let (dev, how) = match (state::find(&devs), boot_disk) {
        (Some(dev), _) => (dev, "found"),
        (None, None) => return ram("no boot disk and no filesystem labelled PLINTH_STATE"),
        (None, Some(disk)) => {
            let started = Instant::now();
            match state::create(SYSROOT, disk) {
                Ok(dev) => {
                    step(&format!(
                        "created the state partition {} on {} in {} ms",
                        dev.describe(),
                        disk.name,
                        started.elapsed().as_millis()
                    ));
                    (dev, "created")
                }
                Err(e) => return ram(&format!("not creating a state partition: {e}")),
            }
        }
    };
    let node = format!("/dev/{}", dev.name);
    match mounts::mount_fs(&node, &target, "ext4", MsFlags::MS_NOATIME, None) {
        Ok(()) => step(&format!(
            "state: {node} labelled {} ({how}) on {STATE_MOUNT}",
            state::LABEL
        )),
        Err(e) => ram(&format!("mounting {node}: {e}")),
    }
}

/// Deletes the initramfs's module files: the initramfs stays in RAM after the switch, and they
/// are loaded already. (The PXE root image stays: the loop device reads it.)
fn free_initramfs() {
    let _ = std::fs::remove_dir_all("/usr/lib/modules");
}
