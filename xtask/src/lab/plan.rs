//! The lab's decisions, pure: which seeds make an N-node lab, each node's files and QEMU machine,
//! what its pidfile and `node.json` say, and what its console has reported so far.

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail, ensure};
use qemu_tests::cmdline::{Accel, Boot, DiskFormat, Drive, Forward, MachineSpec, Nic};
use qemu_tests::lab::LabSeed;
use serde_json::{Value, json};

/// The apiserver's port in the guest.
pub const APISERVER_PORT: u16 = 6443;
/// The node exporter's port in the guest.
pub const EXPORTER_PORT: u16 = qemu_tests::node::NODE_EXPORTER_PORT;
/// The seeds `configs/examples/lab/` holds: an N-node lab uses the first N.
pub const SEEDS: [&str; 3] = ["node1", "node2", "node3"];
/// What the PXE kernel line gets beside the image's own: a root shell on ttyS1 (the second serial
/// port, a unix socket on the host), through which the lab asks node1 for its kubeconfig and etcd's
/// members, as `qemu-tests/tests/cluster.rs` does.
pub const AUTOLOGIN: &str = "plinth.autologin=ttyS1";

/// One lab node, from its seed directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabNode {
    /// meta-data's `local-hostname`, also the node's directory under `target/lab/`.
    pub name: String,
    pub seed_dir: PathBuf,
    /// The MAC `lab0` is matched by (the socket segment NIC).
    pub lab_mac: String,
    /// The MAC `mgmt0` is matched by (the user-network NIC carrying the forwards).
    pub mgmt_mac: String,
    /// `role: init`: it makes the cluster; the others join it.
    pub init: bool,
    /// A control plane (`init`, `server`): it runs an apiserver; an agent does not.
    pub apiserver: bool,
}

/// The seed directories of an `nodes`-node lab, refused beyond the seeds that exist.
pub fn seed_dirs(lab: &Path, nodes: usize) -> Result<Vec<PathBuf>> {
    ensure!(nodes >= 1, "--nodes must be at least 1");
    if nodes > SEEDS.len() {
        bail!(
            "--nodes {nodes}: configs/examples/lab/ has seeds for {} nodes only ({}); \
             add a nodeN seed (a copy of node2 with its own name, MACs and address) to grow it",
            SEEDS.len(),
            SEEDS.join(", ")
        );
    }
    Ok(SEEDS[..nodes].iter().map(|s| lab.join(s)).collect())
}

impl From<&LabSeed> for LabNode {
    fn from(seed: &LabSeed) -> Self {
        Self {
            name: seed.name.clone(),
            seed_dir: seed.dir.clone(),
            lab_mac: seed.lab_mac.clone(),
            mgmt_mac: seed.mgmt_mac.clone(),
            init: seed.init(),
            apiserver: seed.role != plinth_config::plinth::Role::Agent,
        }
    }
}

/// Checks the order the lab starts nodes in: the `init` node first, no other.
pub fn check_roles(nodes: &[LabNode]) -> Result<()> {
    ensure!(
        nodes.first().is_some_and(|n| n.init),
        "the first lab seed must be the init node (role: init)"
    );
    if let Some(other) = nodes.iter().skip(1).find(|n| n.init) {
        bail!(
            "{} is a second init node: it would make its own cluster",
            other.name
        );
    }
    Ok(())
}

/// Where one node's files are: `target/lab/<node>/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeFiles {
    pub dir: PathBuf,
    pub qmp: PathBuf,
    pub serial2: PathBuf,
}

impl NodeFiles {
    /// The files of `node` under the lab directory `lab_dir`; the sockets go to the temporary
    /// directory when the path is too long for a unix socket address.
    pub fn new(lab_dir: &Path, node: &str) -> Self {
        let dir = lab_dir.join(node);
        let socket = |ext: &str| {
            let path = dir.join(format!("{ext}.sock"));
            if path.as_os_str().len() < 100 {
                path
            } else {
                std::env::temp_dir().join(format!("plinth-lab-{node}.{ext}.sock"))
            }
        };
        Self {
            qmp: socket("qmp"),
            serial2: socket("serial2"),
            dir,
        }
    }

    pub fn pidfile(&self) -> PathBuf {
        self.dir.join("qemu.pid")
    }

    pub fn console(&self) -> PathBuf {
        self.dir.join("console.log")
    }

    pub fn qemu_log(&self) -> PathBuf {
        self.dir.join("qemu.log")
    }

    pub fn seed(&self) -> PathBuf {
        self.dir.join("seed.img")
    }

    pub fn state_disk(&self) -> PathBuf {
        self.dir.join("state.img")
    }

    /// What `up` recorded: ports, sockets, start time (see [`NodeRecord`]).
    pub fn record(&self) -> PathBuf {
        self.dir.join("node.json")
    }
}

/// The host ports forwarded to one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ports {
    pub apiserver: u16,
    pub exporter: u16,
}

/// What the machines share: the image's PXE kernel and the two initrds as one file, the kernel
/// line, the accelerator, the segment's multicast port, and each machine's size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shared {
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    pub cmdline: String,
    pub accel: Accel,
    pub segment: u16,
    pub memory_mib: u32,
    pub cpus: u32,
}

/// The QEMU machine of one lab node, booted as `qemu-tests/tests/cluster.rs` boots its one-node
/// cluster: PXE with a root shell on ttyS1, a raw state disk, then the seed (vfat `cidata`); the lab
/// NIC on the shared socket segment and the mgmt NIC on the user network with the forwards, each
/// with the seed's MAC; the console on stdout (the caller points it at `console.log`), QMP and the
/// second serial port on unix sockets.
pub fn machine(node: &LabNode, files: &NodeFiles, shared: &Shared, ports: Ports) -> MachineSpec {
    let boot = Boot::Kernel {
        kernel: shared.kernel.clone(),
        initrd: Some(shared.initrd.clone().into()),
        append: format!("{} {AUTOLOGIN}", shared.cmdline),
    };
    let mut spec = MachineSpec::new(&format!("lab-{}", node.name), shared.accel, boot);
    spec.memory_mib = shared.memory_mib;
    spec.cpus = shared.cpus;
    spec.drives = vec![
        Drive {
            path: files.state_disk(),
            format: DiskFormat::Raw,
            read_only: false,
            serial: None,
        },
        Drive {
            path: files.seed(),
            format: DiskFormat::Raw,
            read_only: true,
            serial: None,
        },
    ];
    spec.nics = vec![
        Nic::segment(shared.segment).with_mac(&node.lab_mac),
        Nic::user().with_mac(&node.mgmt_mac),
    ];
    spec.forwards = vec![
        Forward {
            host: ports.apiserver,
            guest: APISERVER_PORT,
        },
        Forward {
            host: ports.exporter,
            guest: EXPORTER_PORT,
        },
    ];
    spec.qmp = Some(files.qmp.clone());
    spec.serial2 = Some(files.serial2.clone());
    spec
}

/// What `up` records per node in `node.json`, for `status` and `down`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeRecord {
    pub name: String,
    pub ports: Ports,
    pub qmp: PathBuf,
    pub serial2: PathBuf,
    /// Seconds since the Unix epoch when QEMU was started.
    pub started_unix: u64,
    /// Whether it runs an apiserver (its forward answers): a control plane.
    pub apiserver: bool,
}

impl NodeRecord {
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "apiserver_port": self.ports.apiserver,
            "exporter_port": self.ports.exporter,
            "qmp": self.qmp,
            "serial2": self.serial2,
            "started_unix": self.started_unix,
            "apiserver": self.apiserver,
        })
    }

    pub fn from_json(value: &Value) -> Result<Self> {
        let text = |key: &str| {
            value[key]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| anyhow!("node.json: no {key}"))
        };
        let port = |key: &str| {
            value[key]
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .ok_or_else(|| anyhow!("node.json: no {key}"))
        };
        Ok(Self {
            name: text("name")?,
            ports: Ports {
                apiserver: port("apiserver_port")?,
                exporter: port("exporter_port")?,
            },
            qmp: text("qmp")?.into(),
            serial2: text("serial2")?.into(),
            started_unix: value["started_unix"].as_u64().unwrap_or(0),
            apiserver: value["apiserver"].as_bool().unwrap_or(true),
        })
    }
}

/// The process id a pidfile holds (one decimal number, optional trailing newline).
pub fn parse_pidfile(text: &str) -> Option<u32> {
    text.trim().parse().ok().filter(|&pid| pid > 1)
}

/// Whether `/proc/<pid>/stat` describes a live process (not a zombie or dead one).
pub fn alive_from_stat(stat: &str) -> bool {
    // The state is the first field after the command name, which is in parentheses and may hold
    // spaces or parentheses itself: read from the last `)`.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .is_some_and(|state| !matches!(state, "Z" | "X" | "x"))
}

/// Whether `/proc/<pid>/cmdline` (NUL-separated) is the lab's QEMU for the machine named
/// `machine` (`-name plinth-lab-node1`), so a reused pid is never taken for it.
pub fn is_lab_qemu(cmdline: &[u8], machine: &str) -> bool {
    let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
    let wanted = format!("plinth-{machine}");
    args.first()
        .is_some_and(|a| String::from_utf8_lossy(a).contains("qemu-system"))
        && args
            .windows(2)
            .any(|w| w[0] == b"-name" && w[1] == wanted.as_bytes())
}

/// A step of a node's boot its console reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Milestone {
    /// PID 1's `plinth: ready in …`.
    Booted,
    EtcdReady,
    ApiserverReady,
    KubeletReady,
    /// `config: not applied yet: …`: this build ignores part of the seed (a joining node before
    /// joining is built).
    NotApplied,
    /// A line after which the boot will not get further (panic, stage 1 failure, maintenance).
    Hopeless,
}

impl Milestone {
    pub fn describe(self) -> &'static str {
        match self {
            Milestone::Booted => "booted (PID 1 ready)",
            Milestone::EtcdReady => "etcd ready",
            Milestone::ApiserverReady => "kube-apiserver ready",
            Milestone::KubeletReady => "kubelet ready",
            Milestone::NotApplied => "part of its config is not applied",
            Milestone::Hopeless => "FAILED",
        }
    }
}

/// The milestones in a console log, the first line of each, in the order they came.
pub fn milestones(console: &str) -> Vec<(Milestone, String)> {
    let hopeless = qemu_tests::Regex::new(qemu_tests::node::HOPELESS_PATTERN).expect("valid");
    let mut found: Vec<(Milestone, String)> = Vec::new();
    for line in console.lines() {
        let line = qemu_tests::console::clean(line.as_bytes());
        let kind = if line.contains("plinth: ready in ") {
            Milestone::Booted
        } else if line.contains("service etcd: ready") {
            Milestone::EtcdReady
        } else if line.contains("service kube-apiserver: ready") {
            Milestone::ApiserverReady
        } else if line.contains("service kubelet: ready") {
            Milestone::KubeletReady
        } else if line.contains("config: not applied yet") {
            Milestone::NotApplied
        } else if hopeless.is_match(&line) {
            Milestone::Hopeless
        } else {
            continue;
        };
        if !found.iter().any(|(k, _)| *k == kind) {
            found.push((kind, line.trim().to_owned()));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lab_dir() -> PathBuf {
        crate::cmd::workspace_root().join("configs/examples/lab")
    }

    fn node(name: &str) -> LabNode {
        LabNode::from(&LabSeed::read(&lab_dir().join(name)).unwrap())
    }

    #[test]
    fn the_seeds_name_the_nodes_and_their_macs() {
        let one = node("node1");
        assert_eq!(one.name, "node1");
        assert_eq!(
            (one.lab_mac.as_str(), one.mgmt_mac.as_str()),
            ("52:54:00:0c:00:11", "52:54:00:0c:01:11")
        );
        assert!(one.init);
        let three = node("node3");
        assert_eq!(three.lab_mac, "52:54:00:0c:00:13");
        assert!(!three.init);
        assert!(!three.apiserver, "node3 is an agent running an etcd member");
        assert!(one.apiserver && node("node2").apiserver);
        check_roles(&[one.clone(), node("node2"), three]).unwrap();
        assert!(check_roles(&[node("node2"), one.clone()]).is_err());
        assert!(check_roles(&[one.clone(), one]).is_err());
    }

    #[test]
    fn a_lab_is_one_to_three_seeds() {
        assert_eq!(seed_dirs(&lab_dir(), 1).unwrap().len(), 1);
        assert_eq!(
            seed_dirs(&lab_dir(), 3).unwrap()[2],
            lab_dir().join("node3")
        );
        assert!(seed_dirs(&lab_dir(), 0).is_err());
        let four = seed_dirs(&lab_dir(), 4).unwrap_err().to_string();
        assert!(four.contains("seeds for 3 nodes only"), "{four}");
    }

    #[test]
    fn a_node_boots_pxe_with_its_macs_forwards_and_sockets() {
        let files = NodeFiles::new(Path::new("/t/lab"), "node2");
        let shared = Shared {
            kernel: "/img/pxe/vmlinuz".into(),
            initrd: "/t/lab/pxe-initrd.img".into(),
            cmdline: "console=ttyS0 quiet".into(),
            accel: Accel::Tcg,
            segment: 40123,
            memory_mib: 3072,
            cpus: 2,
        };
        let ports = Ports {
            apiserver: 41001,
            exporter: 41002,
        };
        let spec = machine(&node("node2"), &files, &shared, ports);
        let line = qemu_tests::cmdline::qemu_args(&spec)
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        for want in [
            "-name plinth-lab-node2",
            "-accel tcg",
            "-m 3072 -smp 2",
            "-serial stdio -monitor none",
            "-kernel /img/pxe/vmlinuz -initrd /t/lab/pxe-initrd.img",
            "-append console=ttyS0 quiet plinth.autologin=ttyS1",
            "file=/t/lab/node2/state.img,format=raw,if=none,id=disk0,cache=unsafe -device virtio-blk-pci,drive=disk0 ",
            "file=/t/lab/node2/seed.img,format=raw,if=none,id=disk1,cache=unsafe,readonly=on",
            "-netdev socket,id=net0,mcast=230.0.0.1:40123,localaddr=127.0.0.1",
            "netdev=net0,id=nic0,romfile=,speed=10000,duplex=full,mac=52:54:00:0c:00:12",
            "hostfwd=tcp:127.0.0.1:41001-:6443,hostfwd=tcp:127.0.0.1:41002-:9100",
            "netdev=net1,id=nic1,romfile=,speed=10000,duplex=full,mac=52:54:00:0c:01:12",
            "-chardev socket,id=serial2,path=/t/lab/node2/serial2.sock,server=on,wait=off",
            "-qmp unix:/t/lab/node2/qmp.sock,server=on,wait=off",
        ] {
            assert!(line.contains(want), "missing {want:?} in {line}");
        }
        assert!(!line.contains("bootindex"), "{line}");
    }

    #[test]
    fn long_lab_paths_put_the_sockets_in_tmp() {
        let long = PathBuf::from(format!("/{}", "x".repeat(120)));
        let files = NodeFiles::new(&long, "node1");
        assert!(files.qmp.starts_with(std::env::temp_dir()));
        assert!(files.serial2.ends_with("plinth-lab-node1.serial2.sock"));
        assert_eq!(files.pidfile(), long.join("node1/qemu.pid"));
    }

    #[test]
    fn node_records_round_trip() {
        let record = NodeRecord {
            name: "node1".into(),
            ports: Ports {
                apiserver: 1,
                exporter: 2,
            },
            qmp: "/q".into(),
            serial2: "/s".into(),
            started_unix: 1_800_000_000,
            apiserver: false,
        };
        assert_eq!(NodeRecord::from_json(&record.to_json()).unwrap(), record);
        assert!(NodeRecord::from_json(&json!({"name": "node1"})).is_err());
    }

    #[test]
    fn pidfiles_and_proc_entries() {
        assert_eq!(parse_pidfile("1234\n"), Some(1234));
        assert_eq!(parse_pidfile(" 99 "), Some(99));
        assert_eq!(parse_pidfile(""), None);
        assert_eq!(parse_pidfile("1"), None);
        assert_eq!(parse_pidfile("12ab"), None);
        assert!(alive_from_stat("4242 (qemu-system-x86) S 1 4242 4242 0 -1"));
        assert!(alive_from_stat("4242 (a) b) R 1"));
        assert!(!alive_from_stat("4242 (qemu-system-x86) Z 1 4242"));
        assert!(!alive_from_stat(""));
        let ours = b"qemu-system-x86_64\0-name\0plinth-lab-node1\0-machine\0q35\0";
        assert!(is_lab_qemu(ours, "lab-node1"));
        assert!(!is_lab_qemu(ours, "lab-node2"));
        assert!(!is_lab_qemu(
            b"bash\0-name\0plinth-lab-node1\0",
            "lab-node1"
        ));
    }

    #[test]
    fn console_milestones_first_of_each_in_order() {
        let console = "\
[    2.0] plinth stage 1: loaded 36 modules\n\
[   20.1] plinth: ready in 18.20s\n\
[   40.0] service etcd: ready\n\
[   41.0] service etcd: ready\n\
\x1b[1m[   90.5] service kube-apiserver: ready\x1b[0m\n\
[  120.0] service kubelet: ready\n";
        let found: Vec<Milestone> = milestones(console).into_iter().map(|(m, _)| m).collect();
        assert_eq!(
            found,
            [
                Milestone::Booted,
                Milestone::EtcdReady,
                Milestone::ApiserverReady,
                Milestone::KubeletReady
            ]
        );
        assert_eq!(
            milestones(console)[2].1,
            "[   90.5] service kube-apiserver: ready"
        );
        let joiner = "config: not applied yet: plinth.cluster (role server): joining\n\
                      plinth: phase config failed; staying up in maintenance mode\n";
        let found: Vec<Milestone> = milestones(joiner).into_iter().map(|(m, _)| m).collect();
        assert_eq!(found, [Milestone::NotApplied, Milestone::Hopeless]);
    }
}
