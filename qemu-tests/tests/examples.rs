//! The example configs of `configs/examples/` booted as they are: every example is validated by the
//! config crate first (a broken one fails here with its `SOURCE:LINE:COL`), then the 3-node lab
//! seeds, `compute.yaml`, `control-plane.yaml` and `hyperconverged.yaml` boot on the real image
//! with the NICs they expect, and each node must end up with the identity, network, kernel settings
//! and services its example asks for.
//!
//! The examples are read from the repository at test time, never copied. The test appends one
//! `runcmd` to an example that has none: a shell script that waits (bounded) for the network the
//! example describes and prints what the node became as console lines `[runcmd.1] EXAMPLE …`, which
//! the assertions read. The examples run OVS in Kube-OVN's pods (the default mode): the
//! hyperconverged node is checked to start no OVS daemon of its own. The hyperconverged node's
//! Longhorn disk is prepared (formatted, mounted shared). `storage-lvm.yaml` and
//! `storage-longhorn.yaml` boot with the disks they name (serial numbers), prepare them while their
//! cluster join waits for a control plane that is not there; `storage.rs` proves the refusals and
//! the second boot on the same disk names.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, ensure};
use plinth_config::{MachineConfig, Parsed};
use qemu_tests::Regex;
use qemu_tests::cmdline::{Chipset, DiskFormat, Drive, Nic};
use qemu_tests::lab::LabSeed;
use qemu_tests::metrics;
use qemu_tests::node::{BootOptions, Fixture, Node, Variant};
use qemu_tests::ports::free_port;
use qemu_tests::seed::{Seed, SeedFormat};

/// How long the appended runcmd may wait for the network (and peers) before reporting anyway.
const SCRIPT_LIMIT_S: u64 = 240;

/// How long a node booting an example may take to be ready: a TCG boot beside other VMs (up to
/// 150 s here), a time phase that may wait a minute, and the appended runcmd's bounded wait.
const EXAMPLE_READY: Duration = Duration::from_secs(150 + 60 + SCRIPT_LIMIT_S);

/// The size of the empty disk the hyperconverged example's Longhorn device is.
const LONGHORN_BYTES: u64 = 64 << 20;

/// The prefix of every line the appended runcmd prints.
const MARK: &str = "EXAMPLE";

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/examples")
}

/// The example at `path` (a file, or a NoCloud seed directory) read and validated by the config
/// crate, exactly as `cargo xtask config validate` does.
fn validated(path: &Path) -> Result<Parsed> {
    plinth_config::load_path(path).map_err(|d| {
        anyhow!(
            "{d}\nthe example {} is broken: fix it at the line:column above",
            path.display()
        )
    })
}

/// `text` (the user-data of example `source`) with a top-level `runcmd` running `script` appended
/// at the end, validated again; refused when the example has a `runcmd` of its own.
fn with_runcmd(source: &str, text: &str, script: &str) -> Result<String> {
    let parsed = plinth_config::parse(source, text).map_err(|d| anyhow!("{d}"))?;
    ensure!(
        parsed.config.runcmd.is_empty(),
        "{source} has a runcmd of its own; this test appends its report only to examples without one"
    );
    let mut out = text.to_owned();
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str("\n# Appended by qemu-tests/tests/examples.rs: report what the node became.\n");
    out.push_str("runcmd:\n  - |\n");
    for line in script.lines() {
        if !line.is_empty() {
            out.push_str("    ");
            out.push_str(line);
        }
        out.push('\n');
    }
    let label = format!("{source} with the test's runcmd");
    plinth_config::parse(&label, &out).map_err(|d| anyhow!("{d}"))?;
    Ok(out)
}

/// The report script: `wait` is a shell condition the script waits for (at most
/// [`SCRIPT_LIMIT_S`] in all, then it reports anyway), `body` the commands that print the report.
/// `say` prefixes a command's lines with [`MARK`] and a key.
fn script(wait: &str, body: &str) -> String {
    format!(
        r#"end=$(( $(date +%s) + {SCRIPT_LIMIT_S} ))
left() {{ [ "$(date +%s)" -lt "$end" ]; }}
say() {{ key=$1; shift; "$@" 2>&1 | sed "s|^|{MARK} $key |"; }}
start=$(date +%s)
until {wait}; do left || break; sleep 1; done
echo "{MARK} waited $(( $(date +%s) - start ))s for: {wait_shown}"
{body}
echo "{MARK} end"
"#,
        wait_shown = wait.replace('"', "'"),
    )
}

/// What the appended runcmd printed: the text after `EXAMPLE `, in order.
struct Report {
    node: String,
    lines: Vec<String>,
}

impl Report {
    /// Waits for the node to be ready (runcmd runs before the `ready` phase) and collects the
    /// report.
    fn of(name: &str, node: &Node) -> Result<Self> {
        let ready = node.wait_ready(EXAMPLE_READY).with_context(|| {
            format!(
                "{name} not ready; log {}",
                node.console().log_path().display()
            )
        })?;
        eprintln!("{name}: ready in {:.1}s (guest clock)", ready.seconds);
        let re = Regex::new(&format!(r"^\[runcmd\.\d+\] {MARK} (.*)$"))?;
        // The kernel prints on the same console: a message may land in the middle of a report
        // line (`…layer3+4 (1)[   75.543238] bond0: …`), and is cut off again.
        let kernel = Regex::new(r"\[ *\d+\.\d{6}\] .*$")?;
        let lines: Vec<String> = node
            .console()
            .lines()
            .iter()
            .filter_map(|l| {
                re.captures(&l.text)
                    .map(|c| kernel.replace(&c[1], "").trim_end().to_owned())
            })
            .collect();
        let report = Self {
            node: name.to_owned(),
            lines,
        };
        report.expect("^end$")?;
        Ok(report)
    }

    /// The first line matching `pattern`.
    fn find(&self, pattern: &str) -> Result<String> {
        let re = Regex::new(pattern)?;
        self.lines
            .iter()
            .find(|l| re.is_match(l))
            .cloned()
            .ok_or_else(|| {
                anyhow!(
                    "{}: no report line matches {pattern:?}; the report:\n{}",
                    self.node,
                    self.lines.join("\n")
                )
            })
    }

    fn expect(&self, pattern: &str) -> Result<()> {
        self.find(pattern).map(drop)
    }

    /// The text after `key ` on the line for `key`.
    fn value(&self, key: &str) -> Result<String> {
        let line = self.find(&format!("^{} ", regex::escape(key)))?;
        Ok(line[key.len() + 1..].trim().to_owned())
    }
}

/// Every console line of `node` matching `pattern`.
fn console_lines(node: &Node, pattern: &str) -> Result<Vec<String>> {
    Ok(node.console().matching(&Regex::new(pattern)?))
}

fn ensure_console(node: &Node, name: &str, pattern: &str) -> Result<String> {
    console_lines(node, pattern)?
        .into_iter()
        .next()
        .ok_or_else(|| {
            anyhow!(
                "{name}: no console line matches {pattern:?}; log {}",
                node.console().log_path().display()
            )
        })
}

/// What each node says about the parts of its example this build does not act on yet (OVS):
/// printed for the test log. Every example is a cluster node, which runs its cluster
/// and its labels (an `init` node its own; a joiner waits for the cluster it names): none may say
/// either is not applied, and its console must show the cluster being prepared.
fn said_unapplied(name: &str, node: &Node) -> Result<()> {
    let lines = console_lines(node, r"config: not applied yet: ")?;
    for line in &lines {
        eprintln!("{name}: {line}");
    }
    for part in ["plinth.cluster", "plinth.genestack: "] {
        let said = lines
            .iter()
            .any(|l| l.contains(&format!("not applied yet: {part}")));
        ensure!(
            !said,
            "{name}: the console says that {part} is not applied yet; log {}",
            node.console().log_path().display()
        );
    }
    ensure_console(node, name, r"service cluster-prep: starting")?;
    Ok(())
}

/// The example file at `path` with the report runcmd (`wait`, `body`: see [`script`]) appended:
/// the user-data of its seed.
fn seed_user_data(path: &Path, wait: &str, body: &str) -> Result<String> {
    let text = std::fs::read_to_string(path)?;
    with_runcmd(&path.display().to_string(), &text, &script(wait, body))
}

/// A UEFI boot from a fresh disk with `memory_mib`, the example's `user_data` as its vfat seed
/// (instance `iid-example-<hostname>`), and `nics`.
fn uefi_boot(
    fx: &Fixture,
    user_data: &str,
    hostname: &str,
    memory_mib: u32,
    nics: Vec<Nic>,
) -> Result<BootOptions> {
    let mut opts = BootOptions::new(Variant::Uefi);
    opts.memory_mib = memory_mib;
    opts.disk = Some(fx.overlay("disk", 4)?);
    opts.seed = Some(fx.seed(
        "seed",
        &Seed::new(user_data, &format!("iid-example-{hostname}"), hostname),
        SeedFormat::Vfat,
    )?);
    opts.nics = nics;
    Ok(opts)
}

/// A NIC's `match: macaddress` in the example's network.
fn matched_mac(config: &MachineConfig, ethernet: &str) -> Result<String> {
    config
        .network
        .as_ref()
        .and_then(|n| n.ethernets.get(ethernet))
        .and_then(|e| e.match_.as_ref())
        .and_then(|m| m.macaddress.clone())
        .ok_or_else(|| anyhow!("the example has no ethernets.{ethernet}.match.macaddress"))
}

/// The example files read and validated: the test fails here, before any boot, when one is broken.
#[test]
fn every_example_validates() -> Result<()> {
    let dir = examples_dir();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    for node in ["node1", "node2", "node3"] {
        paths.push(dir.join("lab").join(node));
    }
    paths.sort();
    ensure!(
        paths.len() >= 9,
        "expected the examples in {}",
        dir.display()
    );
    for path in &paths {
        let parsed = validated(path)?;
        for warning in &parsed.warnings {
            eprintln!("{warning}");
        }
        eprintln!("{}: ok", path.display());
    }
    Ok(())
}

/// The lab seeds (configs/examples/lab): three nodes on one segment, each named by its meta-data,
/// its lab address on `lab0` (matched by MAC, renamed), pinging the other two.
#[test]
fn lab_nodes_take_their_names_and_addresses_and_reach_each_other() -> Result<()> {
    let started = Instant::now();
    let lab = examples_dir().join("lab");
    let mut nodes: Vec<LabSeed> = ["node1", "node2", "node3"]
        .iter()
        .map(|n| LabSeed::read(&lab.join(n)))
        .collect::<Result<_, _>>()?;
    let Some(mut fx) = Fixture::for_test("examples-lab") else {
        return Ok(());
    };
    let ips: Vec<String> = nodes.iter().map(|n| n.ip().to_owned()).collect();
    for (i, node) in nodes.iter_mut().enumerate() {
        let peers: Vec<&str> = ips
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != i)
            .map(|(_, ip)| ip.as_str())
            .collect();
        let body = format!(
            r#"for peer in {peers}; do
  tries=0; result=unreachable
  while :; do
    tries=$((tries + 1))
    if busybox ping -c 1 -W 1 "$peer" >/dev/null 2>&1; then result=reachable; break; fi
    left || break
    sleep 1
  done
  echo "{MARK} ping $peer $result after $tries tries"
done
echo "{MARK} hostname $(cat /proc/sys/kernel/hostname)"
say hosts cat /etc/hosts
say addr ip -br addr"#,
            peers = peers.join(" ")
        );
        // The lab address, and the mgmt NIC's DHCP lease (the exporter's forward needs it).
        let wait = format!(
            "ip -br addr show dev lab0 2>/dev/null | grep -q ' {}' && ip -4 -br addr show dev mgmt0 2>/dev/null | grep -q ' 10.0.2.15/'",
            node.address
        );
        let source = node.dir.join("user-data");
        node.seed.user_data = with_runcmd(
            &source.display().to_string(),
            &node.seed.user_data,
            &script(&wait, &body),
        )?;
    }

    // All three at once, 512 MiB each, the lab NIC on one shared segment and the mgmt NIC on the
    // user network (DHCP, so the node exporter answers through its forward).
    let segment = free_port()?;
    let mut booted = Vec::new();
    for node in &nodes {
        let mut opts = BootOptions::new(Variant::Uefi);
        // The init node starts a control plane beside the network this test checks.
        opts.memory_mib = if node.init() { 1024 } else { 512 };
        opts.disk = Some(fx.overlay(&format!("{}-disk", node.name), 4)?);
        opts.seed = Some(fx.seed(&node.name, &node.seed, SeedFormat::Vfat)?);
        opts.nics = vec![
            Nic::segment(segment).with_mac(&node.lab_mac),
            Nic::user().with_mac(&node.mgmt_mac),
        ];
        booted.push(fx.boot(&opts)?);
    }

    let mut failures = Vec::new();
    for (node, vm) in nodes.iter().zip(&booted) {
        if let Err(e) = check_lab_node(node, &ips, vm) {
            failures.push(format!("{e:#}"));
        }
    }
    eprintln!(
        "lab: three nodes checked in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    ensure!(failures.is_empty(), "{}", failures.join("\n\n"));
    Ok(())
}

fn check_lab_node(node: &LabSeed, ips: &[String], vm: &Node) -> Result<()> {
    let name = node.name.as_str();
    let report = Report::of(name, vm)?;
    said_unapplied(name, vm)?;
    // The name from meta-data: the kernel's, /etc/hosts, and the exporter's uname through the
    // mgmt NIC's forward.
    ensure!(
        report.value("hostname")? == name,
        "{name}: kernel hostname {:?}",
        report.value("hostname")?
    );
    report.expect(&format!(r"^hosts 127\.0\.0\.1 {name}$"))?;
    let samples = vm
        .metrics(Duration::from_secs(60), |s| {
            !metrics::all(s, "node_uname_info").is_empty()
        })
        .with_context(|| format!("{name}: node exporter through the mgmt NIC"))?;
    ensure!(
        metrics::nodename(&samples) == Some(name),
        "{name}: node_uname_info {:?}",
        metrics::all(&samples, "node_uname_info")
    );
    // The lab address on lab0 (renamed from whatever udev called the NIC), mgmt0 by DHCP.
    report.expect(&format!(
        r"^addr lab0 +UP +{}\b",
        regex::escape(&node.address)
    ))?;
    report.expect(r"^addr mgmt0 +UP +10\.0\.2\.15/24\b")?;
    for ip in ips
        .iter()
        .filter(|ip| !node.address.starts_with(&format!("{ip}/")))
    {
        report.expect(&format!(r"^ping {} reachable ", regex::escape(ip)))?;
    }
    eprintln!("{name}: report\n  {}", report.lines.join("\n  "));
    Ok(())
}

/// compute.yaml: four onboard ports named eno1..eno4 by udev (SMBIOS type 41), an active-backup
/// bond of eno1/eno2 with the static address, default route and DNS server, vfio_pci loaded and
/// the 1024 huge pages it asks for. No DHCP anywhere, so everything is read from the console.
#[test]
fn compute_bonds_its_onboard_ports_and_reserves_huge_pages() -> Result<()> {
    let started = Instant::now();
    let path = examples_dir().join("compute.yaml");
    let parsed = validated(&path)?;
    let config = &parsed.config;
    let bond_address = config
        .network
        .as_ref()
        .and_then(|n| n.bonds.get("bond0"))
        .and_then(|b| b.addresses.first().cloned())
        .ok_or_else(|| anyhow!("compute.yaml has no bond0 address"))?;
    let body = r#"echo "EXAMPLE hostname $(cat /proc/sys/kernel/hostname)"
say hosts cat /etc/hosts
say link ip -br link
say addr ip -br addr
say route ip route
say resolv cat /etc/resolv.conf
say bonding cat /proc/net/bonding/bond0
say module grep vfio /proc/modules
echo "EXAMPLE nr_hugepages $(cat /proc/sys/vm/nr_hugepages)"
say meminfo grep -i huge /proc/meminfo
echo "EXAMPLE nested $(cat /sys/module/kvm_amd/parameters/nested /sys/module/kvm_intel/parameters/nested 2>/dev/null || true)"
say compute plinthctl compute"#;
    let wait = format!(
        "ip -br addr show dev bond0 2>/dev/null | grep -q ' {bond_address}' && [ -s /run/plinth/compute.json ]"
    );
    let user_data = seed_user_data(&path, &wait, body)?;
    let Some(mut fx) = Fixture::for_test("examples-compute") else {
        return Ok(());
    };
    let nics = (1..=4)
        .map(|n| Ok(Nic::segment(free_port()?).onboard(n)))
        .collect::<Result<_>>()?;
    // vm.nr_hugepages: 1024 is 2 GiB of 2 MiB pages: room for them and the node beside them.
    // No user NIC: the example configures no DHCP, so the harness forwards nothing.
    let opts = uefi_boot(&fx, &user_data, "compute1", 3072, nics)?;
    let node = fx.boot(&opts)?;
    let report = Report::of("compute1", &node)?;
    said_unapplied("compute1", &node)?;
    eprintln!("compute1: report\n  {}", report.lines.join("\n  "));

    ensure!(report.value("hostname")? == "compute1");
    report.expect(r"^hosts 127\.0\.0\.1 compute1\.lab\.example\.com compute1$")?;
    for n in 1..=4 {
        report.expect(&format!(r"^link eno{n} "))?;
    }
    report.expect(r"^link eno1 +UP .*<.*SLAVE")?;
    report.expect(r"^link eno2 +UP .*<.*SLAVE")?;
    report.expect(&format!(
        r"^addr bond0 +UP +{}\b",
        regex::escape(&bond_address)
    ))?;
    report.expect(r"^route default via 10\.10\.100\.1 dev bond0\b")?;
    report.expect(r"^resolv nameserver 10\.10\.100\.1$")?;
    report.expect(r"^bonding Bonding Mode: fault-tolerance \(active-backup\)$")?;
    report.expect(r"^bonding Primary Slave: eno1\b")?;
    report.expect(r"^bonding MII Polling Interval \(ms\): 100$")?;
    report.expect(r"^bonding Slave Interface: eno1$")?;
    report.expect(r"^bonding Slave Interface: eno2$")?;
    report.expect(r"^module vfio_pci ")?;
    ensure!(
        report.value("nr_hugepages")? == "1024",
        "compute1: the kernel granted {} huge pages of the 1024 asked for",
        report.value("nr_hugepages")?
    );
    report.expect(r"^meminfo HugePages_Total: +1024$")?;
    // KVM under the emulator is kvm_amd (0/1) or, on other CPUs, kvm_intel (N/Y).
    let nested = report.value("nested")?;
    ensure!(
        nested == "1" || nested == "Y",
        "compute1: KVM's nested parameter is {nested:?}, the example says nested_virtualization: true"
    );
    // The compute check, in the background: KVM and nested answer; the UKI's fixed command line
    // lacks the example's kernel arguments (said, as the README says); no libvirt pod yet.
    report.expect(r"^compute kvm +ok +/dev/kvm answers API version 12$")?;
    report.expect(r"^compute nested +ok ")?;
    report.expect(r"^compute kernel-args +failing +not on the kernel line: .*intel_iommu=on")?;
    report.expect(r"^compute libvirt +waiting +no libvirt yet")?;
    eprintln!(
        "compute: checked in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// hyperconverged.yaml, on the i440fx chipset of an OpenStack instance so its NICs are ens3..ens5:
/// DHCP on ens3 (the user network, so the exporter answers), the bridge br-mgmt over ens4 with its
/// address, the written files, and its two services — the oneshot `motd-stamp` and `lab-web`,
/// serving the page its `write_files` put under /var, ready once its port answers.
#[test]
fn hyperconverged_runs_its_own_services_behind_its_bridge() -> Result<()> {
    let started = Instant::now();
    let path = examples_dir().join("hyperconverged.yaml");
    validated(&path)?;
    let body = r#"echo "EXAMPLE hostname $(cat /proc/sys/kernel/hostname)"
say addr ip -br addr
say bridged ip -o link show master br-mgmt
say stamp cat /run/plinth-booted
say page busybox wget -q -O - http://127.0.0.1:8080/
say motd cat /etc/plinth/motd
say services plinthctl services
say longhorn findmnt -n -o FSTYPE,PROPAGATION,LABEL /var/lib/longhorn"#;
    let wait = "busybox wget -q -O - http://127.0.0.1:8080/ 2>/dev/null | grep -q hci1 && ip -br addr show dev ens3 2>/dev/null | grep -q ' 10.0.2.15/' && findmnt -n -o LABEL /var/lib/longhorn 2>/dev/null | grep -q plinth-lh";
    let user_data = seed_user_data(&path, wait, body)?;
    let Some(mut fx) = Fixture::for_test("examples-hyperconverged") else {
        return Ok(());
    };
    let nics = vec![
        Nic::user().at_slot(3),
        Nic::segment(free_port()?).at_slot(4),
        Nic::segment(free_port()?).at_slot(5),
    ];
    let mut opts = uefi_boot(&fx, &user_data, "hci1", 1024, nics)?;
    opts.chipset = Chipset::I440fx;
    // The example's Longhorn device, /dev/vdb: empty, so the storage agent formats it. The seed
    // comes after it, /dev/vdc.
    let longhorn = fx.dir.join("longhorn.raw");
    std::fs::File::create(&longhorn)?.set_len(LONGHORN_BYTES)?;
    opts.extra_disks = vec![Drive {
        path: longhorn.clone(),
        format: DiskFormat::Raw,
        read_only: false,
        serial: None,
    }];
    let node = fx.boot(&opts)?;
    let report = Report::of("hci1", &node)?;
    said_unapplied("hci1", &node)?;
    eprintln!("hci1: report\n  {}", report.lines.join("\n  "));

    ensure!(report.value("hostname")? == "hci1");
    report.expect(r"^addr ens3 +UP +10\.0\.2\.15/24\b")?;
    report.expect(r"^addr br-mgmt +UP +172\.16\.0\.5/24\b")?;
    report.expect(r"^bridged \d+: ens4: .* master br-mgmt ")?;
    report.expect(r"^stamp \S")?;
    report.expect(r"^page <h1>hci1</h1>$")?;
    report.expect(r"^motd Hyperconverged Genestack node, managed by Plinth\.$")?;
    report.expect(r"^services motd-stamp +exited\b")?;
    report.expect(r"^services lab-web +ready\b")?;
    report.expect(r"^longhorn ext4 +shared +plinth-lh$")?;
    // Kube-OVN mode (the default): no OVS daemon of the host's own.
    ensure!(
        console_lines(&node, r"service ovsdb-server\b")?.is_empty(),
        "hci1: ovsdb-server started on the host in kube-ovn mode"
    );
    // The node's own control plane starts beside this under emulation (etcd, kube-apiserver):
    // a scrape can wait minutes for the one vCPU there.
    node.metrics(Duration::from_secs(180), |s| {
        metrics::nodename(s) == Some("hci1")
    })
    .context("hci1: the node exporter never said nodename=hci1 through ens3")?;
    drop(node);
    // ext4's magic 0xEF53 at byte 1080 and the label Plinth gives it at 1144.
    let disk = std::fs::read(&longhorn)?;
    ensure!(
        disk.get(1080..1082) == Some(&[0x53, 0xef][..])
            && disk.get(1144..1153) == Some(&b"plinth-lh"[..]),
        "hci1: the Longhorn disk holds no ext4 labelled plinth-lh"
    );
    eprintln!(
        "hyperconverged: checked in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// An empty sparse disk of `bytes` in the fixture's directory, with the serial number `serial`.
fn serial_disk(fx: &Fixture, serial: &str, bytes: u64) -> Result<Drive> {
    let path = fx.dir.join(&format!("{serial}.raw"));
    std::fs::File::create(&path)?.set_len(bytes)?;
    Ok(Drive {
        path,
        format: DiskFormat::Raw,
        read_only: false,
        serial: Some(serial.into()),
    })
}

/// A storage example booted on the i440fx chipset (its NIC is ens3) with `disks`: its report,
/// once its storage is prepared, from a node that waits for its cluster, not in maintenance mode.
fn storage_example(
    file: &str,
    hostname: &str,
    disks: &[(&str, u64)],
    wait: &str,
    body: &str,
) -> Result<Option<Report>> {
    let path = examples_dir().join(file);
    validated(&path)?;
    let user_data = seed_user_data(&path, wait, body)?;
    let Some(mut fx) = Fixture::for_test(&format!("examples-{hostname}")) else {
        return Ok(None);
    };
    let nics = vec![Nic::segment(free_port()?).at_slot(3)];
    let mut opts = uefi_boot(&fx, &user_data, hostname, 1024, nics)?;
    opts.chipset = Chipset::I440fx;
    opts.extra_disks = disks
        .iter()
        .map(|(serial, bytes)| serial_disk(&fx, serial, *bytes))
        .collect::<Result<_>>()?;
    let node = fx.boot(&opts)?;
    let report = Report::of(hostname, &node)?;
    said_unapplied(hostname, &node)?;
    eprintln!("{hostname}: report\n  {}", report.lines.join("\n  "));
    ensure!(
        console_lines(&node, r"maintenance mode")?.is_empty(),
        "{hostname}: in maintenance mode; log {}",
        node.console().log_path().display()
    );
    Ok(Some(report))
}

/// storage-lvm.yaml with its two disks (`serial:cinder-1`, `serial:cinder-2`): the volume group
/// over both, Genestack's PV metadata size, the LIO target's modules for Cinder's `lioadm`, and
/// its storage VLAN's address.
#[test]
fn storage_lvm_makes_its_volume_group_over_the_disks_it_names() -> Result<()> {
    let started = Instant::now();
    // `pvcreate --metadatasize 2048` (MiB) needs more than 2 GiB per disk.
    let disks = [("cinder-1", 3u64 << 30), ("cinder-2", 3 << 30)];
    let body = r#"say vg lvm vgs --noheadings -o vg_name,pv_count,vg_attr
say pv lvm pvs --noheadings -o pv_name,vg_name,pv_mda_size --units m
say mods grep -E '^(target_core_mod|target_core_iblock|iscsi_target_mod) ' /proc/modules
say configfs findmnt -n -o FSTYPE /sys/kernel/config
say addr ip -br addr
say storage plinthctl storage"#;
    // The report is written when the storage service ends, after the volume group exists; runcmd
    // runs before `ready`, so it waits for the report too.
    let wait = "lvm vgs cinder-volumes-1 >/dev/null 2>&1 && plinthctl storage >/dev/null 2>&1 && ip -br addr show dev storage 2>/dev/null | grep -q ' 10.10.200.41/'";
    let Some(report) = storage_example("storage-lvm.yaml", "cinder1", &disks, wait, body)? else {
        return Ok(());
    };
    report.expect(r"^vg +cinder-volumes-1 +2 +wz--n-")?;
    report.expect(r"^pv +/dev/vd. +cinder-volumes-1 +20\d\d\.\d+m$")?;
    for m in ["target_core_mod", "target_core_iblock", "iscsi_target_mod"] {
        report.expect(&format!("^mods {m} "))?;
    }
    report.expect(r"^configfs configfs$")?;
    report.expect(r"^addr storage@ens3 +UP +10\.10\.200\.41/24\b")?;
    report.expect(r"^storage .*serial:cinder-1 .*prepared")?;
    report.expect(r"^storage .*serial:cinder-2 .*prepared")?;
    eprintln!(
        "storage-lvm: checked in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// storage-longhorn.yaml with its disk (`/dev/disk/by-id/virtio-longhorn0`): formatted ext4 and
/// mounted shared at /var/lib/longhorn, iscsid running, dm_crypt and the NFS client loaded.
#[test]
fn storage_longhorn_formats_and_shares_its_disk_with_iscsid_running() -> Result<()> {
    let started = Instant::now();
    let disks = [("longhorn0", 256u64 << 20)];
    let body = r#"say longhorn findmnt -n -o SOURCE,FSTYPE,PROPAGATION,LABEL /var/lib/longhorn
echo "EXAMPLE iscsid $(busybox pidof iscsid >/dev/null && echo running || echo absent)"
say mods grep -E '^(dm_crypt|iscsi_tcp|nfsv4) ' /proc/modules
say addr ip -br addr"#;
    let wait = "findmnt -n -o LABEL /var/lib/longhorn 2>/dev/null | grep -q plinth-lh && busybox pidof iscsid >/dev/null";
    let Some(report) = storage_example("storage-longhorn.yaml", "storage1", &disks, wait, body)?
    else {
        return Ok(());
    };
    // Stage 1 binds /var/lib/longhorn from the state partition; the disk is mounted over it.
    let mounts: Vec<&String> = report
        .lines
        .iter()
        .filter(|l| l.starts_with("longhorn "))
        .collect();
    let top = mounts.last().context("no /var/lib/longhorn mount")?;
    ensure!(
        Regex::new(r"^longhorn /dev/vd. +ext4 +shared +plinth-lh$")?.is_match(top),
        "storage1: /var/lib/longhorn is not the Longhorn disk mounted shared: {mounts:?}"
    );
    ensure!(report.value("iscsid")? == "running");
    for m in ["dm_crypt", "iscsi_tcp", "nfsv4"] {
        report.expect(&format!("^mods {m} "))?;
    }
    report.expect(r"^addr ens3 +UP +10\.10\.100\.31/24\b")?;
    eprintln!(
        "storage-longhorn: checked in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// control-plane.yaml: NICs matched by MAC and renamed eno1/eno2, an 802.3ad bond with MTU 9000,
/// VLAN 100 with its address, the FQDN as hostname (prefer_fqdn_over_hostname), user `ops` with
/// its key (so sshd runs), the time-sync phase giving up on unreachable NTP after boot_timeout 60s,
/// and the timezone.
#[test]
fn control_plane_bonds_with_lacp_and_tags_vlan_100() -> Result<()> {
    let started = Instant::now();
    let path = examples_dir().join("control-plane.yaml");
    let parsed = validated(&path)?;
    let config = &parsed.config;
    let macs = [matched_mac(config, "eno1")?, matched_mac(config, "eno2")?];
    let vlan_address = config
        .network
        .as_ref()
        .and_then(|n| n.vlans.get("bond0.100"))
        .and_then(|v| v.addresses.first().cloned())
        .ok_or_else(|| anyhow!("control-plane.yaml has no bond0.100 address"))?;
    let key = config
        .users
        .iter()
        .find(|u| u.name == "ops")
        .and_then(|u| u.ssh_authorized_keys.first().cloned())
        .ok_or_else(|| anyhow!("control-plane.yaml has no user ops with a key"))?;
    let body = r#"n=0; until busybox pidof sshd >/dev/null; do left || break; n=$((n + 1)); sleep 1; done
echo "EXAMPLE sshd $(busybox pidof sshd >/dev/null && echo running || echo absent) after ${n}s more"
echo "EXAMPLE hostname $(cat /proc/sys/kernel/hostname)"
say hosts cat /etc/hosts
say link ip -br link
say addr ip -br addr
say route ip route
say resolv cat /etc/resolv.conf
say bonding cat /proc/net/bonding/bond0
echo "EXAMPLE mtu bond0 $(cat /sys/class/net/bond0/mtu)"
echo "EXAMPLE mtu bond0.100 $(cat /sys/class/net/bond0.100/mtu)"
say vlan ip -d -o link show dev bond0.100
say passwd getent passwd ops
say groups id -nG ops
echo "EXAMPLE shadow $(getent shadow ops | cut -d: -f2)"
say key cat /home/ops/.ssh/authorized_keys
echo "EXAMPLE localtime $(readlink /etc/localtime)"
echo "EXAMPLE timezone $(cat /etc/timezone)""#;
    let wait = format!("ip -br addr show dev bond0.100 2>/dev/null | grep -q ' {vlan_address}'");
    let user_data = seed_user_data(&path, &wait, body)?;
    let Some(mut fx) = Fixture::for_test("examples-control-plane") else {
        return Ok(());
    };
    let nics = macs
        .iter()
        .map(|mac| Ok(Nic::segment(free_port()?).with_mac(mac)))
        .collect::<Result<_>>()?;
    let opts = uefi_boot(&fx, &user_data, "cp2", 1024, nics)?;
    let node = fx.boot(&opts)?;
    let report = Report::of("cp2", &node)?;
    said_unapplied("cp2", &node)?;
    eprintln!("cp2: report\n  {}", report.lines.join("\n  "));

    // prefer_fqdn_over_hostname: the kernel's name is the FQDN, as cloud-init sets it.
    ensure!(report.value("hostname")? == "cp2.lab.example.com");
    report.expect(r"^hosts 127\.0\.0\.1 cp2\.lab\.example\.com cp2$")?;
    report.expect(r"^bonding Bonding Mode: IEEE 802\.3ad Dynamic link aggregation$")?;
    report.expect(r"^bonding Transmit Hash Policy: layer3\+4 \(1\)$")?;
    report.expect(r"^bonding LACP (rate|active): (fast|on)")?;
    report.expect(r"^bonding Slave Interface: eno1$")?;
    report.expect(r"^bonding Slave Interface: eno2$")?;
    // The bond and both members up: 802.3ad needs each port's speed and duplex, which the harness
    // gives its virtio NICs as real ports have them.
    let up = report
        .lines
        .iter()
        .filter(|l| *l == "bonding MII Status: up")
        .count();
    ensure!(
        up == 3,
        "cp2: bond0 and both members must be MII up:\n{}",
        report.lines.join("\n")
    );
    ensure!(report.value("mtu bond0")? == "9000");
    ensure!(report.value("mtu bond0.100")? == "9000");
    report.expect(r"^vlan .* vlan protocol 802\.1Q id 100 ")?;
    report.expect(&format!(
        r"^addr bond0\.100@bond0 +UP +{}\b",
        regex::escape(&vlan_address)
    ))?;
    report.expect(r"^route default via 10\.10\.100\.1 dev bond0\.100\b")?;
    report.expect(r"^resolv nameserver 10\.10\.100\.1$")?;
    report.expect(r"^resolv search lab\.example\.com$")?;
    report.expect(r"^passwd ops:x:\d+:\d+::/home/ops:/bin/sh$")?;
    report.expect(r"^groups .*\badm\b")?;
    report.expect(r"^shadow [!*]")?;
    report.expect(&format!("^key {}$", regex::escape(&key)))?;
    report.expect(r"^sshd running ")?;
    ensure_console(&node, "cp2", r"service sshd: ready")?;
    ensure!(report.value("localtime")? == "/usr/share/zoneinfo/Etc/UTC");
    ensure!(report.value("timezone")? == "Etc/UTC");
    // Unreachable NTP: the time-sync phase gives up after the example's boot_timeout and says so.
    let time = ensure_console(&node, "cp2", r"phase time-sync: done in")?;
    eprintln!("cp2: {time}");
    let re = Regex::new(
        r"phase time-sync: done in (\d+\.\d+)s: no sync from 3 configured sources within 60s",
    )?;
    let caps = re
        .captures(&time)
        .ok_or_else(|| anyhow!("cp2: the time-sync phase did not say it gave up: {time}"))?;
    let took: f64 = caps[1].parse()?;
    ensure!(
        (55.0..=70.0).contains(&took),
        "cp2: the time-sync phase gave up after {took}s, not after boot_timeout 60s: {time}"
    );
    eprintln!(
        "control-plane: checked in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
