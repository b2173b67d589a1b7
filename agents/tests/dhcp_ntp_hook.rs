//! The image's dhcpcd hook `60-plinth-chrony` (image/mkosi.extra/usr/lib/dhcpcd/dhcpcd-hooks/),
//! which hands the NTP servers of a DHCP lease to chrony through a `sourcedir` file per interface,
//! and the dhcpcd.conf the `dhcp` service generates from the network agent's ready file
//! (`plinth_agents::dhcpcd::conf`, the `dhcp` service's program).
//!
//! Two tests, both through the host's real `dhcpcd-run-hooks` (from dhcpcd-base, with its hook list
//! narrowed to this one hook, plus dhcpcd's own `20-resolv.conf` writing a scratch file instead of
//! /etc/resolv.conf), a fake `chronyc` that logs its arguments and a listening unix socket standing
//! in for chronyd's command socket:
//! - the hook's decisions, driven by the environment dhcpcd would set (no root needed);
//! - the real thing: dnsmasq serving DHCP (router, DNS and NTP options) on two veth pairs from one
//!   network namespace, the real dhcpcd in manager mode on the other ends in another, run with the
//!   config generated for `dhcp4 cli0 metric=300` and `dhcp4+6 cli1 metric=250 nodns`: each
//!   lease's default route carries its metric, only cli0's name server reaches resolv.conf, only
//!   cli1 asks for IPv6 routers, the sources files appear with the leases' servers (the generated
//!   config asks for them) and go away when dhcpcd releases the leases. Needs root; dhcpcd runs in
//!   a private mount namespace with tmpfs on /run and /var/lib/dhcpcd, so the host's are left
//!   alone.
//!
//! Skipped with a message when dhcpcd-base or dnsmasq-base is missing (`cargo xtask prereqs`).

mod support;

use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use plinth_agents::dhcpcd::conf as dhcp_conf;
use plinth_config::net_ready::NetReady;
use support::netns::{Netns, unavailable};

/// The host's hook runner, which defines the helpers the hook uses.
const RUN_HOOKS: &str = "/usr/lib/dhcpcd/dhcpcd-run-hooks";
const DHCPCD: &str = "/usr/sbin/dhcpcd";
const DNSMASQ: &str = "/usr/sbin/dnsmasq";
/// dhcpcd's hook that writes resolv.conf.
const RESOLV_HOOK: &str = "/usr/lib/dhcpcd/dhcpcd-hooks/20-resolv.conf";

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

    /// Adds dhcpcd's resolv.conf hook, writing [`Bench::resolv_conf`] instead of /etc/resolv.conf.
    fn add_resolv_hook(&self) {
        let hook = std::fs::read_to_string(RESOLV_HOOK).unwrap();
        assert!(
            hook.contains("change_file /etc/resolv.conf"),
            "{RESOLV_HOOK} no longer writes /etc/resolv.conf the way this test expects"
        );
        let hook = hook.replace(
            "/etc/resolv.conf",
            &self.resolv_conf().display().to_string(),
        );
        // Never the host's resolvconf(8), if it has one.
        let default = ": ${resolvconf:=resolvconf}";
        assert!(
            hook.contains(default),
            "{RESOLV_HOOK} no longer picks resolvconf as expected"
        );
        let hook = hook.replace(default, "resolvconf=/nonexistent/resolvconf");
        assert!(!hook.contains("/etc/"), "{RESOLV_HOOK} still names /etc");
        write_script(&self.dir.join("hooks/20-resolv.conf"), &hook);
    }

    /// The resolv.conf the resolv.conf hook writes.
    fn resolv_conf(&self) -> PathBuf {
        self.dir.join("resolv.conf")
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
    [RUN_HOOKS, RESOLV_HOOK, DHCPCD, DNSMASQ]
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
fn a_real_dhcpcd_with_the_generated_config_applies_each_interfaces_options() {
    if let Some(why) = unavailable().or_else(missing_tools) {
        eprintln!("SKIP: {why}");
        return;
    }
    let bench = Bench::new("netns");
    bench.add_resolv_hook();
    let server = Netns::new("ntp-srv");
    let client = Netns::new("ntp-cli");
    for (n, mac) in [(0, "02:00:00:00:42:01"), (1, "02:00:00:00:42:02")] {
        let (cli, srv) = (format!("cli{n}"), format!("srv{n}"));
        server.veth(&cli, mac, &srv);
        server.ip(&["link", "set", &cli, "netns", &client.name]);
        server.ip(&["addr", "add", &format!("10.7{}.0.1/24", 7 + n), "dev", &srv]);
    }

    // Each subnet has its own router and name server; both hand out the same NTP servers.
    let dnsmasq = server
        .exec(DNSMASQ)
        .args([
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--port=0",
            "--interface=srv0",
            "--interface=srv1",
            "--bind-interfaces",
            "--dhcp-authoritative",
            "--dhcp-range=set:a,10.77.0.10,10.77.0.50,255.255.255.0,1h",
            "--dhcp-range=set:b,10.78.0.10,10.78.0.50,255.255.255.0,1h",
            "--dhcp-option=tag:a,option:router,10.77.0.1",
            "--dhcp-option=tag:b,option:router,10.78.0.1",
            "--dhcp-option=tag:a,option:dns-server,10.77.0.53",
            "--dhcp-option=tag:b,option:dns-server,10.78.0.53",
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

    // The config the dhcp service would write for the agent's ready file. dhcpcd runs in manager
    // mode as the service does (no interface on its command line: the config's allowinterfaces
    // says which); -A skips the ARP probe of the offered address, which only adds seconds here;
    // --nodev because no udev knows these interfaces (dhcpcd would wait for udev to initialise
    // them: "waiting for interface to initialise", then "no valid interfaces found").
    let ready = r#"{"version":1,"dhcp":[
        {"interface":"cli0","families":"dhcp4","route_metric":300,"use_dns":true},
        {"interface":"cli1","families":"dhcp4+6","route_metric":250,"use_dns":false}]}"#;
    let clients = NetReady::parse(ready).unwrap().dhcp;
    let lines: Vec<String> = clients.iter().map(|c| c.line()).collect();
    assert_eq!(
        lines,
        ["dhcp4 cli0 metric=300", "dhcp4+6 cli1 metric=250 nodns"]
    );
    let conf = bench.dir.join("dhcpcd.conf");
    std::fs::write(&conf, dhcp_conf::render(&clients, "the test")).unwrap();
    let mut argv = vec![
        DHCPCD.to_string(),
        "-B".into(),
        "-A".into(),
        "--nodev".into(),
        "-f".into(),
        conf.display().to_string(),
        "-c".into(),
        bench.dir.join("run-hooks").display().to_string(),
    ];
    for (k, v) in bench.env() {
        argv.extend(["-e".into(), format!("{k}={v}")]);
    }
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

    // The chrony hook runs after the resolv.conf hook: once both files exist, both leases' hooks
    // have run.
    let files = ["cli0.dhcp.sources", "cli1.dhcp.sources"];
    let bound = wait_for("sources files", Duration::from_secs(30), || {
        files.iter().all(|f| bench.out().join(f).exists())
    });
    eprintln!(
        "leases and sources files after {:.2}s\n--- dhcpcd\n{}",
        bound.as_secs_f64(),
        log("dhcpcd.log")
    );
    for file in files {
        assert_eq!(
            bench.servers(file),
            ["server 10.77.0.1 iburst", "server 10.77.0.2 iburst"]
        );
    }
    assert_eq!(bench.reloads(), 2);

    // Each lease's default route, with its interface's metric.
    let mut routes: Vec<(String, String, u64)> = client
        .json(&["route", "show", "default"])
        .iter()
        .map(|r| {
            (
                r["dev"].as_str().unwrap_or_default().to_string(),
                r["gateway"].as_str().unwrap_or_default().to_string(),
                r["metric"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    routes.sort();
    assert_eq!(
        routes,
        [
            ("cli0".into(), "10.77.0.1".into(), 300),
            ("cli1".into(), "10.78.0.1".into(), 250)
        ]
    );

    // Only the interface without nodns gives resolv.conf its name server.
    let resolv = std::fs::read_to_string(bench.resolv_conf()).unwrap_or_default();
    eprintln!("--- resolv.conf\n{resolv}");
    assert!(resolv.contains("nameserver 10.77.0.53"), "{resolv}");
    assert!(!resolv.contains("10.78.0.53"), "{resolv}");

    // IPv6 only where the ready file asks for it: cli1 looks for routers, cli0 (dhcp4) never.
    wait_for(
        "cli1's IPv6 router solicitation",
        Duration::from_secs(30),
        || log("dhcpcd.log").contains("cli1: soliciting an IPv6 router"),
    );
    assert!(!log("dhcpcd.log").contains("cli0: soliciting an IPv6 router"));

    // SIGALRM is how `dhcpcd -k` asks dhcpcd to release its leases and exit.
    let released = Instant::now();
    let kill = Command::new("kill")
        .args(["-ALRM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    wait_for(
        "removal of the sources files",
        Duration::from_secs(15),
        || files.iter().all(|f| !bench.out().join(f).exists()),
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
    assert!(log("dhcpcd.log").contains("cli0: releasing lease"));
    assert!(log("dhcpcd.log").contains("cli1: releasing lease"));
    assert!(bench.files().is_empty(), "{:?}", bench.files());
    assert_eq!(bench.reloads(), 4);
    assert!(
        !log("dhcpcd.log").contains("lo:"),
        "dhcpcd went beyond allowinterfaces"
    );
}
