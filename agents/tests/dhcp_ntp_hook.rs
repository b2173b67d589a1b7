//! The image's dhcpcd hook `60-plinth-chrony` (image/mkosi.extra/usr/lib/dhcpcd/dhcpcd-hooks/),
//! which hands the NTP servers of a DHCP lease to chrony through a `sourcedir` file per interface.
//!
//! Two tests, both through the host's real `dhcpcd-run-hooks` (from dhcpcd-base, with its hook list
//! narrowed to this one hook), a fake `chronyc` that logs its arguments and a listening unix socket
//! standing in for chronyd's command socket:
//! - the hook's decisions, driven by the environment dhcpcd would set (no root needed);
//! - the real thing: dnsmasq serving DHCP with option 42 (ntp-server) on one end of a veth pair in
//!   one network namespace, the real dhcpcd on the other end in another; the sources file appears
//!   with the lease's servers and goes away when dhcpcd releases the lease. Needs root; dhcpcd runs
//!   in a private mount namespace with tmpfs on /run and /var/lib/dhcpcd, so the host's are left
//!   alone.
//!
//! Skipped with a message when dhcpcd-base or dnsmasq-base is missing (`cargo xtask prereqs`).

mod support;

use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::netns::{Netns, unavailable};

/// The host's hook runner, which defines the helpers the hook uses.
const RUN_HOOKS: &str = "/usr/lib/dhcpcd/dhcpcd-run-hooks";
const DHCPCD: &str = "/usr/sbin/dhcpcd";
const DNSMASQ: &str = "/usr/sbin/dnsmasq";

fn hook() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../image/mkosi.extra/usr/lib/dhcpcd/dhcpcd-hooks/60-plinth-chrony")
}

/// A scratch directory with a runner that sources only our hook, a fake chronyc, chronyd's
/// socket (while `socket` is kept), and the directory the hook writes to.
struct Bench {
    dir: PathBuf,
    socket: Option<UnixListener>,
}

impl Bench {
    fn new(tag: &str) -> Bench {
        let dir = std::env::temp_dir().join(format!("plinth-hook-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("hooks")).unwrap();
        std::fs::copy(hook(), dir.join("hooks/60-plinth-chrony")).unwrap();
        let runner = std::fs::read_to_string(RUN_HOOKS).unwrap();
        assert!(
            runner.contains("/usr/lib/dhcpcd/dhcpcd-hooks/*"),
            "{RUN_HOOKS} no longer lists its hooks the way this test expects"
        );
        let none = dir.join("none");
        let runner = runner
            .replace(
                "/usr/lib/dhcpcd/dhcpcd-hooks/*",
                &format!("{}/hooks/*", dir.display()),
            )
            .replace("/etc/dhcpcd.enter-hook", &none.display().to_string())
            .replace("/etc/dhcpcd.exit-hook", &none.display().to_string());
        write_script(&dir.join("run-hooks"), &runner);
        write_script(
            &dir.join("chronyc"),
            &format!(
                "#!/bin/sh\necho \"$*\" >> {}\n",
                dir.join("chronyc.log").display()
            ),
        );
        let socket = Some(UnixListener::bind(dir.join("chronyd.sock")).unwrap());
        Bench { dir, socket }
    }

    /// chronyd stops: its socket goes away.
    fn stop_chronyd(&mut self) {
        self.socket = None;
        std::fs::remove_file(self.dir.join("chronyd.sock")).unwrap();
    }

    fn out(&self) -> PathBuf {
        self.dir.join("out")
    }

    /// The environment that points the hook at this bench.
    fn env(&self) -> [(String, String); 3] {
        [
            (
                "PLINTH_CHRONY_SOCKET".into(),
                self.dir.join("chronyd.sock").display().to_string(),
            ),
            (
                "PLINTH_CHRONY_DHCP_DIR".into(),
                self.out().display().to_string(),
            ),
            (
                "PLINTH_CHRONYC".into(),
                self.dir.join("chronyc").display().to_string(),
            ),
        ]
    }

    /// Runs the hooks as dhcpcd would, with `vars` as the lease's environment.
    fn run(&self, vars: &[(&str, &str)]) {
        let out = Command::new("/bin/sh")
            .arg(self.dir.join("run-hooks"))
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .envs(self.env())
            .envs(vars.iter().copied())
            .output()
            .unwrap();
        eprintln!(
            "hooks {vars:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "dhcpcd-run-hooks failed for {vars:?}");
    }

    /// The files in the output directory, sorted, with their content.
    fn files(&self) -> Vec<(String, String)> {
        let Ok(entries) = std::fs::read_dir(self.out()) else {
            return Vec::new();
        };
        let mut files: Vec<(String, String)> = entries
            .map(|e| e.unwrap().path())
            .map(|p| {
                (
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                    std::fs::read_to_string(&p).unwrap(),
                )
            })
            .collect();
        files.sort();
        files
    }

    /// The server lines of one file.
    fn servers(&self, name: &str) -> Vec<String> {
        std::fs::read_to_string(self.out().join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}; have {:?}", self.files()))
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(str::to_owned)
            .collect()
    }

    /// How many times chronyc was told to reload.
    fn reloads(&self) -> usize {
        std::fs::read_to_string(self.dir.join("chronyc.log"))
            .unwrap_or_default()
            .lines()
            .inspect(|l| assert_eq!(*l, "reload sources"))
            .count()
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn write_script(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn missing_tools() -> Option<String> {
    [RUN_HOOKS, DHCPCD, DNSMASQ]
        .iter()
        .find(|p| !Path::new(p).exists())
        .map(|p| format!("{p} is missing: run `cargo xtask prereqs` (dhcpcd-base, dnsmasq-base)"))
}

#[test]
fn the_hook_writes_and_removes_sources_files_as_leases_come_and_go() {
    if let Some(why) = missing_tools() {
        eprintln!("SKIP: {why}");
        return;
    }
    let bench = Bench::new("decisions");
    let lease = |reason: &'static str, servers: &'static str| {
        [
            ("reason", reason),
            ("interface", "eno1"),
            ("protocol", "dhcp"),
            ("new_ntp_servers", servers),
        ]
    };

    // Events that are not about a lease change nothing.
    bench.run(&[("reason", "PREINIT"), ("interface", "eno1")]);
    bench.run(&[("reason", "CARRIER"), ("interface", "eno1")]);
    assert!(bench.files().is_empty(), "{:?}", bench.files());

    // A lease: its servers once each, in order; anything that is not an address or name is dropped.
    bench.run(&lease("BOUND", "10.0.0.1 10.0.0.2 10.0.0.1 evil;allow"));
    assert_eq!(
        bench.servers("eno1.dhcp.sources"),
        ["server 10.0.0.1 iburst", "server 10.0.0.2 iburst"]
    );
    assert_eq!(bench.reloads(), 1);

    // A renewal with the same servers does not bother chronyd; other servers do.
    bench.run(&lease("RENEW", "10.0.0.1 10.0.0.2"));
    assert_eq!(bench.reloads(), 1);
    bench.run(&lease("REBIND", "ntp.example.net"));
    assert_eq!(
        bench.servers("eno1.dhcp.sources"),
        ["server ntp.example.net iburst"]
    );
    assert_eq!(bench.reloads(), 2);

    // A lease without NTP servers still leaves a file (a lease came), with no server line.
    bench.run(&lease("RENEW", ""));
    assert!(bench.servers("eno1.dhcp.sources").is_empty());
    assert_eq!(bench.reloads(), 3);

    // DHCPv6 has its own file, from the DHCPv6 option names.
    bench.run(&[
        ("reason", "BOUND6"),
        ("interface", "eno1"),
        ("protocol", "dhcp6"),
        ("new_dhcp6_sntp_servers", "2001:db8::123"),
        ("new_dhcp6_ntp_server_addr", "2001:db8::124"),
    ]);
    assert_eq!(
        bench.servers("eno1.dhcp6.sources"),
        ["server 2001:db8::123 iburst", "server 2001:db8::124 iburst"]
    );
    assert_eq!(bench.reloads(), 4);

    // Releasing the DHCPv4 lease removes only its file; losing the carrier removes the rest.
    bench.run(&[("reason", "RELEASE"), ("interface", "eno1")]);
    let names: Vec<String> = bench.files().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["eno1.dhcp6.sources"]);
    assert_eq!(bench.reloads(), 5);
    bench.run(&[("reason", "NOCARRIER"), ("interface", "eno1")]);
    assert!(bench.files().is_empty(), "{:?}", bench.files());
    assert_eq!(bench.reloads(), 6);
    // Nothing left to remove: chronyd is not told again.
    bench.run(&[("reason", "EXPIRE"), ("interface", "eno1")]);
    assert_eq!(bench.reloads(), 6);

    // With chronyd not running (no socket) the file is still written, and nobody is told.
    let mut bench = bench;
    bench.stop_chronyd();
    bench.run(&lease("BOUND", "10.0.0.3"));
    assert_eq!(
        bench.servers("eno1.dhcp.sources"),
        ["server 10.0.0.3 iburst"]
    );
    assert_eq!(bench.reloads(), 6);
}

/// A child process, killed and reaped on drop whatever the test's outcome.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < timeout, "no {what} within {timeout:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    start.elapsed()
}

#[test]
fn a_real_dhcpcd_lease_from_dnsmasq_feeds_the_sources_file() {
    if let Some(why) = unavailable().or_else(missing_tools) {
        eprintln!("SKIP: {why}");
        return;
    }
    let bench = Bench::new("netns");
    let server = Netns::new("ntp-srv");
    let client = Netns::new("ntp-cli");
    server.veth("cli0", "02:00:00:00:42:01", "srv0");
    server.ip(&["link", "set", "cli0", "netns", &client.name]);
    server.ip(&["addr", "add", "10.77.0.1/24", "dev", "srv0"]);

    let dnsmasq = server
        .exec(DNSMASQ)
        .args([
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--port=0",
            "--interface=srv0",
            "--bind-interfaces",
            "--dhcp-authoritative",
            "--dhcp-range=10.77.0.10,10.77.0.50,255.255.255.0,1h",
            "--dhcp-option=option:ntp-server,10.77.0.1,10.77.0.2",
            "--log-dhcp",
            "--log-facility=-",
        ])
        .arg(format!(
            "--dhcp-leasefile={}",
            bench.dir.join("leases").display()
        ))
        .arg(format!(
            "--pid-file={}",
            bench.dir.join("dnsmasq.pid").display()
        ))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(bench.dir.join("dnsmasq.log")).unwrap())
        .spawn()
        .unwrap();
    let _dnsmasq = Running(dnsmasq);

    // dhcpcd asks for option 42 as the image's /etc/dhcpcd.conf does (`option ntp_servers`);
    // -A skips the ARP probe of the offered address, which only adds seconds here.
    let conf = bench.dir.join("dhcpcd.conf");
    std::fs::write(&conf, "option ntp_servers\n").unwrap();
    let mut argv = vec![
        DHCPCD.to_string(),
        "-B".into(),
        "-4".into(),
        "-A".into(),
        "-f".into(),
        conf.display().to_string(),
        "-c".into(),
        bench.dir.join("run-hooks").display().to_string(),
    ];
    for (k, v) in bench.env() {
        argv.extend(["-e".into(), format!("{k}={v}")]);
    }
    argv.push("cli0".into());
    let start = Instant::now();
    let dhcpcd = client
        .exec("unshare")
        .args(["--mount", "--propagation", "private", "/bin/sh", "-c"])
        .arg(r#"mount -t tmpfs plinth-test /run && mount -t tmpfs plinth-test /var/lib/dhcpcd && exec "$@""#)
        .arg("sh")
        .args(&argv)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(bench.dir.join("dhcpcd.log")).unwrap())
        .spawn()
        .unwrap();
    let pid = dhcpcd.id();
    let mut dhcpcd = Running(dhcpcd);
    let log = |name: &str| std::fs::read_to_string(bench.dir.join(name)).unwrap_or_default();

    let file = "cli0.dhcp.sources";
    let bound = wait_for("sources file", Duration::from_secs(30), || {
        bench.out().join(file).exists()
    });
    eprintln!(
        "lease and sources file after {:.2}s\n--- dhcpcd\n{}",
        bound.as_secs_f64(),
        log("dhcpcd.log")
    );
    assert_eq!(
        bench.servers(file),
        ["server 10.77.0.1 iburst", "server 10.77.0.2 iburst"]
    );
    assert_eq!(bench.reloads(), 1);

    // SIGALRM is how `dhcpcd -k` asks dhcpcd to release its lease and exit.
    let released = Instant::now();
    let kill = Command::new("kill")
        .args(["-ALRM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    wait_for(
        "removal of the sources file",
        Duration::from_secs(15),
        || !bench.out().join(file).exists(),
    );
    wait_for("dhcpcd's exit", Duration::from_secs(15), || {
        dhcpcd.0.try_wait().unwrap().is_some()
    });
    eprintln!(
        "released and removed in {:.2}s (whole test {:.2}s)\n--- dhcpcd\n{}--- dnsmasq\n{}",
        released.elapsed().as_secs_f64(),
        start.elapsed().as_secs_f64(),
        log("dhcpcd.log"),
        log("dnsmasq.log")
    );
    assert!(log("dhcpcd.log").contains("releasing lease"));
    assert!(bench.files().is_empty(), "{:?}", bench.files());
    assert_eq!(bench.reloads(), 2);
}
