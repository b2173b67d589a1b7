//! `plinth-agent ovs` against a real ovsdb-server from Debian's `openvswitch-switch`, run in a
//! temporary directory with its own socket (no ovs-vswitchd: the database is what is checked).
//! The config is netplan's own Open vSwitch example (../shared/corpus, read from there) under
//! `plinth.ovs.mode: host`, without its `ssl` (which Plinth refuses), plus a VLAN on its bridge.
//! What the apply made is read back with Debian's `ovs-vsctl`, not with the agent's own reader.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use plinth_agents::ovs::apply::{DbAction, apply, ensure_db};
use plinth_agents::ovs::client::Client;
use plinth_agents::ovs::desired::desired;
use plinth_config::network::Network;

const OVSDB_SERVER: &str = "/usr/sbin/ovsdb-server";
const OVSDB_TOOL: &str = "/usr/bin/ovsdb-tool";
const OVS_VSCTL: &str = "/usr/bin/ovs-vsctl";
const SCHEMA: &str = "/usr/share/openvswitch/vswitch.ovsschema";

fn missing() -> Option<String> {
    [OVSDB_SERVER, OVSDB_TOOL, OVS_VSCTL, SCHEMA]
        .into_iter()
        .find(|p| !Path::new(p).exists())
        .map(|p| {
            format!("{p} is missing (Debian's openvswitch-switch; `cargo xtask test` installs it)")
        })
}

fn corpus_example() -> Result<String, String> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/netplan/openvswitch.yaml");
    std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))
}

/// A running ovsdb-server on a database in its own directory; killed on drop.
struct Server {
    dir: PathBuf,
    child: Child,
}

impl Server {
    fn start(dir: &Path) -> Server {
        let db = dir.join("conf.db");
        let child = Command::new(OVSDB_SERVER)
            .arg(&db)
            .arg(format!("--remote=punix:{}", dir.join("db.sock").display()))
            .arg(format!(
                "--unixctl={}",
                dir.join("ovsdb-server.ctl").display()
            ))
            .args(["--no-chdir", "-vconsole:off", "-vsyslog:off", "-vfile:off"])
            .stdin(Stdio::null())
            .spawn()
            .expect("start ovsdb-server");
        let server = Server {
            dir: dir.to_owned(),
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Client::connect(&server.socket()).is_err() {
            assert!(Instant::now() < deadline, "ovsdb-server did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn socket(&self) -> PathBuf {
        self.dir.join("db.sock")
    }

    /// `ovs-vsctl --no-wait` on this database (nothing waits for an ovs-vswitchd).
    fn vsctl(&self, args: &[&str]) -> String {
        let out = Command::new(OVS_VSCTL)
            .arg("--no-wait")
            .arg(format!("--db=unix:{}", self.socket().display()))
            .args(args)
            .output()
            .expect("run ovs-vsctl");
        assert!(
            out.status.success(),
            "ovs-vsctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The corpus example without `ssl`, under host mode, with a VLAN on `ovs0`; `vlan` false leaves
/// the VLAN out.
fn network(example: &str, vlan: bool) -> Network {
    let start = example.find("    ssl:\n").expect("the example's ssl");
    let end = example
        .find("    external-ids:\n      somekey")
        .expect("the example's external-ids");
    let mut text = format!(
        "#cloud-config\nplinth:\n  ovs:\n    mode: host\n{}{}",
        &example[..start],
        &example[end..]
    );
    if vlan {
        text.push_str("  vlans:\n    ovs0.100:\n      id: 100\n      link: ovs0\n      addresses: [10.100.0.2/24]\n      mtu: 1400\n");
    }
    plinth_config::parse("openvswitch.yaml", &text)
        .unwrap_or_else(|e| panic!("{e}"))
        .config
        .network
        .expect("a network")
}

fn sorted_lines(text: &str) -> Vec<String> {
    let mut v: Vec<String> = text.lines().map(str::to_owned).collect();
    v.sort();
    v
}

#[test]
fn netplans_openvswitch_example_lands_in_a_real_ovsdb_and_a_second_apply_changes_nothing() {
    if let Some(why) = missing() {
        plinth_test_support::unavailable("ovsdb", &why);
        return;
    }
    let example = match corpus_example() {
        Ok(t) => t,
        Err(why) => {
            plinth_test_support::unavailable("ovsdb", &format!("netplan corpus: {why}"));
            return;
        }
    };
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("ovsdb-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("conf.db");
    let schema = Path::new(SCHEMA);
    let tool = Path::new(OVSDB_TOOL);
    assert_eq!(ensure_db(tool, &db, schema).unwrap(), DbAction::Created);
    assert_eq!(ensure_db(tool, &db, schema).unwrap(), DbAction::Kept);

    let server = Server::start(&dir);
    let want = desired(&network(&example, true));
    let mut client = Client::connect(&server.socket()).unwrap();
    let started = Instant::now();
    let first = apply(&mut client, &want, false).unwrap();
    eprintln!(
        "first apply: {} operations in {:?}",
        first.ops.len(),
        started.elapsed()
    );
    assert!(first.warnings.is_empty(), "{:?}", first.warnings);
    assert!(
        first.changes.contains(&"add bridge ovs0".to_owned()),
        "{:?}",
        first.changes
    );

    // What ovs-vsctl sees.
    assert_eq!(server.vsctl(&["list-br"]), "ovs0\novs0.100");
    assert_eq!(server.vsctl(&["br-to-parent", "ovs0.100"]), "ovs0");
    assert_eq!(server.vsctl(&["br-to-vlan", "ovs0.100"]), "100");
    assert_eq!(
        sorted_lines(&server.vsctl(&["list-ports", "ovs0"])),
        ["bond0", "eth0", "patch0-1"]
    );
    assert_eq!(
        sorted_lines(&server.vsctl(&["list-ifaces", "ovs0"])),
        ["eth0", "eth1", "patch0-1", "patch1-0"]
    );
    assert_eq!(
        server.vsctl(&["get", "Port", "bond0", "bond_mode"]),
        "balance-tcp"
    );
    assert_eq!(server.vsctl(&["get", "Port", "bond0", "lacp"]), "passive");
    assert_eq!(
        server.vsctl(&["get", "Interface", "patch0-1", "type"]),
        "patch"
    );
    assert_eq!(
        server.vsctl(&["get", "Interface", "patch0-1", "options:peer"]),
        "patch1-0"
    );
    assert_eq!(
        server.vsctl(&["get", "Interface", "patch1-0", "options:peer"]),
        "patch0-1"
    );
    assert_eq!(
        server.vsctl(&["get", "Bridge", "ovs0", "fail_mode"]),
        "secure"
    );
    assert_eq!(
        server.vsctl(&["get", "Bridge", "ovs0", "mcast_snooping_enable"]),
        "true"
    );
    assert_eq!(
        server.vsctl(&["get", "Bridge", "ovs0", "protocols"]),
        "[OpenFlow10, OpenFlow11, OpenFlow12]"
    );
    assert_eq!(
        server.vsctl(&["get", "Bridge", "ovs0", "external_ids:iface-id"]),
        "myhostname"
    );
    assert_eq!(
        server.vsctl(&["get", "Bridge", "ovs0", "other_config:disable-in-band"]),
        "\"true\""
    );
    assert_eq!(
        server
            .vsctl(&["get", "Controller", "ovs0", "target"])
            .trim_matches('"'),
        "unix:/var/run/openvswitch/ovs0.mgmt"
    );
    assert_eq!(
        server.vsctl(&["get", "Interface", "eth0", "external_ids:iface-id"]),
        "mylocaliface"
    );
    assert_eq!(
        server.vsctl(&["get", "Interface", "ovs0.100", "type"]),
        "internal"
    );
    assert_eq!(
        server.vsctl(&["get", "Interface", "ovs0.100", "mtu_request"]),
        "1400"
    );
    assert_eq!(
        server.vsctl(&["get", "Open_vSwitch", ".", "external_ids:somekey"]),
        "somevalue"
    );
    assert_eq!(
        server.vsctl(&["get", "Open_vSwitch", ".", "other_config:key"]),
        "value"
    );
    assert_eq!(
        server.vsctl(&["get", "Port", "bond0", "external_ids:plinth-managed"]),
        "\"true\""
    );

    // A second apply plans and commits nothing; the database reads the same.
    let show = server.vsctl(&["show"]);
    let started = Instant::now();
    let second = apply(&mut client, &want, false).unwrap();
    eprintln!(
        "second apply: {} operations in {:?}",
        second.ops.len(),
        started.elapsed()
    );
    assert!(second.ops.is_empty(), "{:#?}", second.ops);
    assert_eq!(server.vsctl(&["show"]), show);

    // Someone else's port and bridge stay when the config drops Plinth's VLAN port.
    server.vsctl(&[
        "add-port",
        "ovs0",
        "tap-theirs",
        "--",
        "set",
        "Interface",
        "tap-theirs",
        "type=internal",
    ]);
    server.vsctl(&["add-br", "br-theirs"]);
    let without_vlan = desired(&network(&example, false));
    let third = apply(&mut client, &without_vlan, false).unwrap();
    assert_eq!(third.changes, ["remove port ovs0.100 from ovs0"]);
    assert_eq!(server.vsctl(&["list-br"]), "br-theirs\novs0");
    assert!(server.vsctl(&["list-ports", "ovs0"]).contains("tap-theirs"));

    // After a restart of the server on the same file (a reboot), nothing to change either.
    drop(client);
    drop(server);
    let server = Server::start(&dir);
    let mut client = Client::connect(&server.socket()).unwrap();
    let after_restart = apply(&mut client, &without_vlan, false).unwrap();
    assert!(after_restart.ops.is_empty(), "{:#?}", after_restart.ops);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
