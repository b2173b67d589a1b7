//! `plinth-virt-check` and the agent's compute check against a real libvirtd from Debian
//! (`libvirt-daemon`, a test prerequisite), started by the test as root in a private mount
//! namespace: its sockets in a temporary directory, tmpfs over /run, /var/lib, /var/cache and
//! /var/log, and its own /etc/libvirt, /etc/passwd and /etc/group (the QEMU driver needs a
//! `libvirt-qemu` user, which only `libvirt-daemon-system` would create on the host), so the
//! host's files are left as they were. Then stopped, and the same check says "no libvirt yet".

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use plinth_agents::compute::check::{Expect, State};
use plinth_agents::compute::kvm;
use plinth_agents::compute::libvirt::{self, Libvirt};
use plinth_agents::compute::run::{WatchOptions, check_once, write};
use plinth_virt_check::Outcome;

const HELPER: &str = env!("CARGO_BIN_EXE_plinth-virt-check");
const LIBVIRTD: &str = "/usr/sbin/libvirtd";

struct Daemon {
    child: Child,
    dir: PathBuf,
}

impl Daemon {
    fn socket(&self) -> PathBuf {
        self.dir.join("sock/libvirt-sock")
    }

    fn stop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Why the daemon cannot be started here, if it cannot.
fn missing_prerequisite() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("needs root (a mount namespace for libvirtd)".into());
    }
    for tool in [LIBVIRTD, "/usr/bin/unshare"] {
        if !Path::new(tool).exists() {
            return Some(format!(
                "{tool} is missing (cargo xtask prereqs installs libvirt-daemon and util-linux)"
            ));
        }
    }
    None
}

fn start() -> Daemon {
    let dir = std::env::temp_dir().join(format!("plinth-libvirtd-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("sock")).unwrap();
    // The host's /etc is the lower layer of an overlay in the daemon's mount namespace: its
    // /etc/libvirt (absent without libvirt-daemon-system), passwd and group are changed there only.
    for sub in ["etc", "etc-upper", "etc-work"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    std::fs::write(
        dir.join("etc/libvirtd.conf"),
        format!(
            "unix_sock_dir = \"{}\"\nauth_unix_rw = \"none\"\nauth_unix_ro = \"none\"\n",
            dir.join("sock").display()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("etc/qemu.conf"),
        "user = \"root\"\ngroup = \"root\"\n",
    )
    .unwrap();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    std::fs::write(
        dir.join("passwd"),
        format!("{passwd}libvirt-qemu:x:64055:64055::/var/lib/libvirt:/usr/sbin/nologin\n"),
    )
    .unwrap();
    let group = std::fs::read_to_string("/etc/group").unwrap();
    std::fs::write(dir.join("group"), format!("{group}libvirt-qemu:x:64055:\n")).unwrap();
    let d = dir.display();
    let script = format!(
        "set -e; for m in /run /var/lib /var/cache /var/log; do mount -t tmpfs plinth-test $m; done; \
         mount -t overlay plinth-test -o lowerdir=/etc,upperdir={d}/etc-upper,workdir={d}/etc-work /etc; \
         mkdir -p /etc/libvirt; cp {d}/etc/* /etc/libvirt/; \
         cp {d}/passwd /etc/passwd; cp {d}/group /etc/group; \
         exec {LIBVIRTD} -f /etc/libvirt/libvirtd.conf"
    );
    let log = std::fs::File::create(dir.join("libvirtd.log")).unwrap();
    let child = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("unshare");
    let mut daemon = Daemon { child, dir };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !daemon.socket().exists() {
        if let Ok(Some(status)) = daemon.child.try_wait() {
            panic!(
                "libvirtd exited with {status}: {}",
                std::fs::read_to_string(daemon.dir.join("libvirtd.log")).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "libvirtd made no socket in 30s");
        std::thread::sleep(Duration::from_millis(100));
    }
    daemon
}

fn options(dir: &Path, socket: &Path) -> WatchOptions {
    WatchOptions {
        expect: Expect::default(),
        root: "/".into(),
        kvm_device: "/dev/kvm".into(),
        libvirt_socket: socket.to_owned(),
        helper: HELPER.into(),
        helper_timeout: Duration::from_secs(60),
        state: dir.join("compute.json"),
        textfile: Some(dir.join("plinth_compute.prom")),
        once: true,
        interval: Duration::from_secs(1),
    }
}

/// What `libvirtd --version` says: `libvirtd (libvirt) 9.0.0`.
fn daemon_version() -> String {
    let out = Command::new(LIBVIRTD).arg("--version").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .last()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn the_check_reads_a_real_libvirtd_and_says_no_libvirt_yet_once_it_stops() {
    if let Some(reason) = missing_prerequisite() {
        plinth_test_support::unavailable("libvirtd", &reason);
        return;
    }
    let mut daemon = start();
    let socket = daemon.socket();
    let started = Instant::now();
    let state = libvirt::ask(&socket, Path::new(HELPER), Duration::from_secs(60));
    eprintln!("first answer in {:?}", started.elapsed());
    let facts = match state {
        Libvirt::Answered(f) => f,
        other => panic!(
            "{other:?}; libvirtd's log:\n{}",
            std::fs::read_to_string(daemon.dir.join("libvirtd.log")).unwrap_or_default()
        ),
    };
    assert_eq!(facts.version, daemon_version());
    assert_eq!(facts.hypervisor, "QEMU");
    assert_eq!(facts.host_arch, std::env::consts::ARCH);
    assert!(
        facts
            .guests
            .iter()
            .any(|g| g.arch == std::env::consts::ARCH)
    );
    // libvirt offers KVM domains exactly when /dev/kvm is usable here.
    let kvm_usable = matches!(
        kvm::api_version(Path::new("/dev/kvm")),
        Ok(kvm::API_VERSION)
    );
    assert_eq!(facts.kvm, kvm_usable);

    let dir = daemon.dir.clone();
    let report = check_once(&options(&dir, &socket));
    write(&report, &options(&dir, &socket)).unwrap();
    let libvirt_check = report.checks.iter().find(|c| c.name == "libvirt").unwrap();
    let want = if kvm_usable {
        State::Ok
    } else {
        State::Failing
    };
    assert_eq!(libvirt_check.state, want, "{libvirt_check:?}");
    let metrics = std::fs::read_to_string(dir.join("plinth_compute.prom")).unwrap();
    assert!(
        metrics.contains("plinth_compute_libvirt_up 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "plinth_compute_libvirt_info{{version=\"{}\",hypervisor=\"QEMU\"",
            facts.version
        )),
        "{metrics}"
    );
    let json: plinth_agents::compute::report::Report =
        serde_json::from_str(&std::fs::read_to_string(dir.join("compute.json")).unwrap()).unwrap();
    assert_eq!(json, report);

    daemon.stop();
    let after = check_once(&options(&dir, &socket));
    assert!(
        matches!(after.libvirt, Libvirt::NotYet { .. }),
        "{:?}",
        after.libvirt
    );
    let libvirt_check = after.checks.iter().find(|c| c.name == "libvirt").unwrap();
    assert_eq!(libvirt_check.state, State::Waiting);
    assert!(
        libvirt_check
            .detail
            .starts_with("no libvirt yet: nothing answers on ")
    );
}

#[test]
fn with_no_daemon_the_helper_says_unreachable_and_the_agent_no_libvirt_yet() {
    let socket = std::env::temp_dir().join(format!("plinth-no-libvirtd-{}", std::process::id()));
    let out = Command::new(HELPER)
        .arg("--socket")
        .arg(&socket)
        .output()
        .unwrap();
    assert!(out.status.success());
    let outcome: Outcome = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        matches!(&outcome, Outcome::Unreachable { error } if error.contains(&socket.display().to_string())),
        "{outcome:?}"
    );
    let state = libvirt::ask(&socket, Path::new(HELPER), Duration::from_secs(10));
    assert!(matches!(state, Libvirt::NotYet { .. }), "{state:?}");
}
