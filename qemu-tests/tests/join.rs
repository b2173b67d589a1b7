//! Joining a running cluster on first boot with nothing but the config, as `kubeadm join` would.
//!
//! - An agent: the lab's init node (`configs/examples/lab/node1`) forms a one-node cluster; an
//!   agent on the same QEMU segment boots with a bootstrap token that does not exist yet and the CA
//!   pin of that cluster, says on its console that the cluster does not know its token and keeps
//!   trying; a `kubectl`-made bootstrap token Secret then lets it in. Its kubelet's client
//!   certificate is issued by the cluster (an approved CSR), its Node becomes Ready with the
//!   Genestack labels its kubelet may set and the `node-role.kubernetes.io/worker` label the init
//!   node's `cluster-roles` keeper grants from its declaration, a pod runs on it with an address of
//!   its podCIDR, and its `plinthctl cluster` says it joined.
//! - The lab (`configs/examples/lab/`, as `cargo xtask lab up` forms it): node1 makes the
//!   cluster; node2, a second control plane, and node3, an agent that runs an etcd member and
//!   keeps only the etcd CA, join it as etcd learners that are promoted: three voting members and
//!   three Nodes Ready with their labels. Writes go on with node3 powered off, and node3 is back
//!   when it boots again with its state; node2 then boots on a blank state disk, its stale member
//!   is removed and it joins again.
//!
//! Every node PXE-boots (a root shell on ttyS1) with a state disk: the lab's nodes with the lab's
//! size (3 GiB and two vCPUs), the token-joined agent 2 GiB and one vCPU. Each test prints how long its steps
//! took under emulation.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, ensure};
use qemu_tests::cmdline::{Drive, Nic};
use qemu_tests::kubernetes::{first_json, in_cidr, run_pause_pod};
use qemu_tests::lab::{self, LabSeed, seeds_dir};
use qemu_tests::node::{BootOptions, Fixture, Node, READY_TIMEOUT, Variant};
use qemu_tests::ports::free_port;
use qemu_tests::seed::{Seed, SeedFormat};
use qemu_tests::session::{SINCE_BOOT, Session};

/// Under TCG the first boot makes the PKI, starts etcd and waits minutes for the apiserver.
const CONTROL_PLANE: Duration = Duration::from_secs(900);
/// The admin kubeconfig on a control plane.
const ADMIN: &str = "/var/lib/plinth/kubernetes/admin.conf";
/// `kubectl` with a control plane's admin kubeconfig.
fn kubectl() -> String {
    format!("kubectl --kubeconfig {ADMIN}")
}

/// How often a guest is asked (kubectl, `plinthctl cluster`) while a lab forms: each ask runs Go
/// programs under emulation, and the node being waited for needs that CPU. Console lines, read on
/// the host, are waited for first where a node prints one.
const ASK: Duration = Duration::from_secs(15);
/// The agent's lab address and MACs (it has no seed in the lab: its config is made here).
const AGENT_ADDRESS: &str = "192.0.2.14";
const AGENT_LAB_MAC: &str = "52:54:00:0c:00:14";
const AGENT_MGMT_MAC: &str = "52:54:00:0c:01:14";

/// A PXE boot with a root shell on ttyS1, the state disk `state`, `seed` as a vfat volume `name`,
/// the lab NIC on `segment` and the mgmt NIC on the user network; a reboot ends QEMU (the test
/// boots the same disk again).
fn boot_on_segment(
    fx: &mut Fixture,
    name: &str,
    seed: &Seed,
    (lab_mac, mgmt_mac): (&str, &str),
    segment: u16,
    state: &Drive,
    (memory_mib, cpus): (u32, u32),
) -> Result<Node> {
    let mut opts = BootOptions::new(Variant::Pxe);
    opts.disk = Some(state.clone());
    opts.no_reboot = true;
    opts.seed = Some(fx.seed(name, seed, SeedFormat::Vfat)?);
    opts.memory_mib = memory_mib;
    opts.cpus = cpus;
    opts.nics = vec![
        Nic::segment(segment).with_mac(lab_mac),
        Nic::user().with_mac(mgmt_mac),
    ];
    opts.serial2 = true;
    opts.extra_cmdline = Some("plinth.autologin=ttyS1".into());
    Ok(fx.boot(&opts)?)
}

/// A lab seed's node on `segment`, with its state disk `state`.
fn boot_lab(
    fx: &mut Fixture,
    lab: &LabSeed,
    segment: u16,
    state: &Drive,
    resources: (u32, u32),
) -> Result<Node> {
    boot_on_segment(
        fx,
        &lab.name,
        &lab.seed,
        (&lab.lab_mac, &lab.mgmt_mac),
        segment,
        state,
        resources,
    )
}

/// A random bootstrap token `[a-z0-9]{6}.[a-z0-9]{16}`.
fn new_token() -> Result<String> {
    use std::io::Read as _;
    let mut bytes = [0u8; 22];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let s: String = bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    Ok(format!("{}.{}", &s[..6], &s[6..]))
}

/// kubeadm's CA pin of a PEM certificate, with the host's openssl (`sha256:` + the SHA-256 of
/// its DER SubjectPublicKeyInfo).
fn ca_pin(pem: &str) -> Result<String> {
    let script = "openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | sha256sum";
    let mut child = Command::new("sh")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("running openssl on the host")?;
    use std::io::Write as _;
    child
        .stdin
        .take()
        .context("openssl's stdin")?
        .write_all(pem.as_bytes())?;
    let out = child.wait_with_output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let hex = text.split_whitespace().next().unwrap_or_default();
    ensure!(
        out.status.success() && hex.len() == 64,
        "openssl could not pin the CA: {text}"
    );
    Ok(format!("sha256:{hex}"))
}

/// The agent's config: the lab segment on `lab0`, DHCP on `mgmt0`, and `role: agent` joining
/// the init node with `token` and the CA `pin`.
fn agent_user_data(init: &LabSeed, token: &str, pin: &str) -> String {
    let endpoint = init.ip();
    format!(
        r#"#cloud-config
manage_etc_hosts: true
network:
  version: 2
  ethernets:
    lab0:
      match:
        macaddress: "{AGENT_LAB_MAC}"
      set-name: lab0
      addresses: [{AGENT_ADDRESS}/24]
    mgmt0:
      match:
        macaddress: "{AGENT_MGMT_MAC}"
      set-name: mgmt0
      dhcp4: true
      optional: true
plinth:
  cluster:
    name: lab
    role: agent
    endpoint: https://{endpoint}:6443
    advertise_address: lab0
    token: {token}
    ca_cert_hash: {pin}
    kubernetes:
      cni: bridge
  genestack:
    roles: [worker, compute]
  time:
    boot_timeout: 20s
"#
    )
}

/// The `join` check of a `plinthctl cluster -o json` report.
fn join_check(report: &serde_json::Value) -> serde_json::Value {
    report["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "join"))
        .cloned()
        .unwrap_or_default()
}

#[test]
fn an_agent_joins_by_a_token_made_after_the_cluster_formed() -> Result<()> {
    let Some(mut fx) = Fixture::for_test("join-agent") else {
        return Ok(());
    };
    let segment = free_port()?;
    let started = Instant::now();

    // The init node of the lab, as its seed says.
    let init = LabSeed::read(&seeds_dir().join("node1"))?;
    let node1_state = fx.state_disk("node1-state", lab::STATE_DISK_MIB)?;
    let node1 = boot_lab(
        &mut fx,
        &init,
        segment,
        &node1_state,
        (lab::MEMORY_MIB, lab::CPUS),
    )?;
    node1.wait_ready(READY_TIMEOUT)?;
    let mut sh1 = Session::open(&node1, Duration::from_secs(120))?;
    let kubectl = kubectl();

    // The CA exists once cluster-prep ran: the agent pins it.
    let ca = sh1.run_until(
        "cat /var/lib/plinth/pki/ca.crt",
        "-----END CERTIFICATE-----",
        CONTROL_PLANE,
    )?;
    let pem = &ca.text[ca.text.find("-----BEGIN").context("no PEM in ca.crt")?..];
    let pin = ca_pin(pem)?;
    let token = new_token()?;
    let (token_id, token_secret) = token.split_once('.').context("token")?;

    // The agent boots with a token the cluster does not know yet.
    let seed = Seed::new(
        &agent_user_data(&init, &token, &pin),
        "plinth-lab-node4",
        "node4",
    );
    let node4_state = fx.state_disk("node4-state", 4096)?;
    let node4 = boot_on_segment(
        &mut fx,
        "node4",
        &seed,
        (AGENT_LAB_MAC, AGENT_MGMT_MAC),
        segment,
        &node4_state,
        (2048, 1),
    )?;
    let agent_started = Instant::now();
    node4.wait_ready(READY_TIMEOUT)?;

    // It says, once, why it waits: node1's apiserver is not up yet, or it does not know the token.
    let endpoint = regex::escape(&format!("https://{}:6443", init.ip()));
    node4.console().arrival(
        &format!(r"cluster join: discovery of {endpoint}: .*retrying with backoff"),
        CONTROL_PLANE,
    )?;
    // Once node1 serves and has signed cluster-info for its own token, the agent's token is the
    // trouble: no signature for it.
    sh1.run_until(
        &format!("{kubectl} -n kube-public get configmap cluster-info -o jsonpath='{{.data}}'"),
        "jws-kubeconfig-",
        CONTROL_PLANE,
    )?;
    let unknown = node4.console().arrival(
        &format!(r"cluster join: discovery of .*token id {token_id}"),
        Duration::from_secs(300),
    )?;
    {
        let mut sh4 = Session::open(&node4, Duration::from_secs(120))?;
        let status = sh4.run("plinthctl cluster -o json")?;
        let report = first_json(&status.text)
            .with_context(|| format!("plinthctl cluster -o json: {status:?}"))?;
        let join = join_check(&report);
        ensure!(
            join["state"] == "failing"
                && join["detail"].as_str().unwrap_or("").contains("discovery"),
            "the join check while the token is unknown: {join}"
        );
    }

    // An administrator makes the token, as `kubeadm token create` would.
    let made = sh1.run(&format!(
        "{kubectl} -n kube-system create secret generic bootstrap-token-{token_id} \
         --type=bootstrap.kubernetes.io/token --from-literal=token-id={token_id} \
         --from-literal=token-secret={token_secret} \
         --from-literal=usage-bootstrap-authentication=true \
         --from-literal=usage-bootstrap-signing=true \
         --from-literal=auth-extra-groups=system:bootstrappers:kubeadm:default-node-token"
    ))?;
    ensure!(made.status == 0, "kubectl create secret: {made:?}");
    let token_made = agent_started.elapsed();

    // The agent joins: its Node Ready, its client certificate approved by the cluster.
    let ready_status = r#"{.status.conditions[?(@.type=="Ready")].status}"#;
    sh1.run_until(
        &format!("{kubectl} get node node4 -o jsonpath='{ready_status}'"),
        "True",
        CONTROL_PLANE,
    )?;
    let agent_ready = agent_started.elapsed();
    let csrs = sh1.run(&format!(
        "{kubectl} get csr -o jsonpath='{{range .items[*]}}{{.spec.username}} {{.status.conditions[*].type}}{{\"\\n\"}}{{end}}'"
    ))?;
    ensure!(
        csrs.text
            .lines()
            .any(|l| l.starts_with("system:bootstrap:") && l.contains("Approved")),
        "no approved CSR of the bootstrap token: {csrs:?}"
    );

    // Its labels: the kubelet's own, and the node role granted by node1's keeper.
    let labels = sh1.run_until(
        &format!("{kubectl} get node node4 -o jsonpath='{{.metadata.labels}}'"),
        "node-role.kubernetes.io/worker",
        Duration::from_secs(300),
    )?;
    let labels = first_json(&labels.text).with_context(|| format!("labels: {labels:?}"))?;
    for (key, value) in [
        ("openstack-compute-node", "enabled"),
        ("node-role.plinth.dev/worker", "worker"),
        ("node-role.kubernetes.io/worker", "worker"),
    ] {
        ensure!(
            labels[key] == value,
            "node4: label {key}={value} missing: {labels}"
        );
    }
    node4.console().arrival(
        r"cluster roles: node node4: the cluster granted its node-role labels",
        Duration::from_secs(600),
    )?;

    // A pod runs on it, with an address of its podCIDR.
    let pod_ip = run_pause_pod(
        &mut sh1,
        &kubectl,
        "on-agent",
        Some("node4"),
        Duration::from_secs(600),
    )?;
    let cidr = sh1.run(&format!(
        "{kubectl} get node node4 -o jsonpath='{{.spec.podCIDR}}'"
    ))?;
    ensure!(
        in_cidr(&pod_ip, &cidr.text),
        "pod address {pod_ip:?} is outside node4's podCIDR {}",
        cidr.text.trim()
    );
    let pod_running = agent_started.elapsed();

    // plinthctl cluster on the agent: joined, and healthy.
    let mut sh4 = Session::open(&node4, Duration::from_secs(120))?;
    let join = join_check(&healthy_report(&mut sh4)?);
    ensure!(join["state"] == "ok", "join check: {join}");
    ensure!(
        !node4.console().tail(2000).contains(token_secret)
            && !node1.console().tail(2000).contains(token_secret),
        "the token's secret was printed on a console"
    );

    eprintln!(
        "join under {:?}: agent told its token is unknown {:.1}s after its QEMU start; token made at {:.1}s; \
         agent Node Ready {:.1}s, a pod running on it {:.1}s after its start; {:.1}s in all",
        fx.accel,
        unknown.as_secs_f64(),
        token_made.as_secs_f64(),
        agent_ready.as_secs_f64(),
        pod_running.as_secs_f64(),
        started.elapsed().as_secs_f64(),
    );
    Ok(())
}

/// etcd's members as `plinthctl cluster -o json` reports them: (name, learner).
fn etcd_members(sh: &mut Session<'_>) -> Result<Vec<(String, bool)>> {
    let out = sh.run("plinthctl cluster -o json")?;
    let report =
        first_json(&out.text).with_context(|| format!("plinthctl cluster -o json: {out:?}"))?;
    Ok(report["etcd_members"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap_or_default().to_owned(),
                m["learner"].as_bool().unwrap_or(false),
            )
        })
        .collect())
}

/// Polls until etcd has exactly the members `names` (sorted), all voting.
fn wait_voting(sh: &mut Session<'_>, names: &[&str], timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let members = etcd_members(sh)?;
        let mut voting: Vec<&str> = members
            .iter()
            .filter(|(_, learner)| !learner)
            .map(|(n, _)| n.as_str())
            .collect();
        voting.sort_unstable();
        if voting == names && members.len() == names.len() {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "etcd never had the voting members {names:?}: {members:?}"
        );
        std::thread::sleep(ASK);
    }
}

/// The Genestack labels a node of `user_data` carries (the node-role ones granted by a control
/// plane's `cluster-roles` keeper).
fn genestack_labels(user_data: &str) -> Result<BTreeMap<String, String>> {
    let config = plinth_config::parse("user-data", user_data)
        .map_err(|e| anyhow!("{e}"))?
        .config;
    Ok(plinth_config::genestack::labels_and_annotations(&config.plinth.genestack).0)
}

/// Polls until every Node of `wanted` (name, labels) is Ready and carries those labels.
fn wait_nodes_labelled(
    sh: &mut Session<'_>,
    wanted: &[(&str, BTreeMap<String, String>)],
    timeout: Duration,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let out = sh.run(&format!("{} get nodes -o json", kubectl()))?;
        let missing: Vec<String> = match first_json(&out.text) {
            None => vec![format!("no node list: {out:?}")],
            Some(list) => {
                let items = list["items"].as_array().cloned().unwrap_or_default();
                wanted
                    .iter()
                    .flat_map(|(name, labels)| {
                        let item = items.iter().find(|i| i["metadata"]["name"] == *name);
                        let ready = item.is_some_and(|i| {
                            i["status"]["conditions"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .any(|c| c["type"] == "Ready" && c["status"] == "True")
                        });
                        let mut missing: Vec<String> = labels
                            .iter()
                            .filter(|(k, v)| {
                                item.is_none_or(|i| {
                                    i["metadata"]["labels"][k.as_str()] != v.as_str()
                                })
                            })
                            .map(|(k, v)| format!("{name}: label {k}={v}"))
                            .collect();
                        if !ready {
                            missing.push(format!("{name}: not Ready"));
                        }
                        missing
                    })
                    .collect()
            }
        };
        if missing.is_empty() {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "after {}s: {}",
            timeout.as_secs(),
            missing.join("; ")
        );
        std::thread::sleep(ASK);
    }
}

/// Waits until node `name`'s Ready condition was posted after the node's latest boot (asked with
/// the node's own kubelet credentials), so a Node still marked Ready from before a reboot is not
/// taken for the rebooted one. Asked once the node's console says its kubelet is ready.
fn wait_heartbeat_since_boot(sh: &mut Session<'_>, name: &str) -> Result<()> {
    sh.node
        .console()
        .arrival(r"service kubelet: ready", CONTROL_PLANE)?;
    let ready = r#"{.status.conditions[?(@.type=="Ready")]"#;
    let kubectl = "kubectl --kubeconfig /var/lib/plinth/kubernetes/kubelet.conf";
    sh.run_every(
        &format!(
            "t=$({kubectl} get node {name} -o jsonpath='{ready}.lastHeartbeatTime}}') && {SINCE_BOOT} && \
             {kubectl} get node {name} -o jsonpath='{ready}.status}}' | grep -q True && \
             echo heartbeat-since-boot"
        ),
        "heartbeat-since-boot",
        CONTROL_PLANE,
        ASK,
    )?;
    Ok(())
}

/// Creates the ConfigMap `name` through the node's own apiserver, asking again while it is busy
/// (and finding it made when an answer was lost).
fn create_configmap(sh: &mut Session<'_>, name: &str) -> Result<()> {
    let kubectl = kubectl();
    sh.run_until(
        &format!(
            "{kubectl} create configmap {name} --from-literal=by=$(hostname) -o name || \
             {kubectl} get configmap {name} -o name"
        ),
        &format!("configmap/{name}"),
        Duration::from_secs(300),
    )?;
    Ok(())
}

/// Asks a node's `plinthctl cluster -o json` until it reports healthy; the report. When it never
/// does, the error shows the human-readable report, which names the failing checks.
fn healthy_report(sh: &mut Session<'_>) -> Result<serde_json::Value> {
    let status = match sh.run_every(
        "plinthctl cluster -o json",
        "\"healthy\": true",
        Duration::from_secs(300),
        ASK,
    ) {
        Ok(out) => out,
        Err(e) => {
            let shown = sh.run("plinthctl cluster")?;
            return Err(anyhow!("{e}\nplinthctl cluster:\n{}", shown.text));
        }
    };
    first_json(&status.text).with_context(|| format!("plinthctl cluster -o json: {status:?}"))
}

/// The lab as `cargo xtask lab up` forms it from `configs/examples/lab/`: node1 makes the
/// cluster; node2 (a second control plane) and node3 (an agent running an etcd member, as
/// Kubespray's dedicated etcd hosts) join it at once, etcd grows by learners that are promoted
/// one at a time to three voting members, and the three Nodes are Ready with their Genestack
/// labels (the node-role ones granted by the control planes' `cluster-roles` keeper). node3
/// keeps only the etcd CA of the shared certificates and runs no apiserver; a write goes through
/// node2's own apiserver. Then:
/// - node3 loses power: node1 and node2 are a quorum, and writes go on through both apiservers;
///   node3 boots again with its state (no discovery again), and is Ready and healthy again;
/// - node2 loses power and its data (it boots on a blank state disk): its stale member is
///   removed, it joins again as a learner and is promoted, etcd has three voting members once
///   more, and node2's new apiserver reads what was written while node3 was off.
///
/// Every VM has the lab's size (`qemu_tests::lab`), and the test prints how long each step took
/// under emulation. It holds both of the QEMU group's places: three emulated control-plane
/// machines already fill two host cores.
#[test]
fn the_lab_forms_keeps_writing_with_a_member_off_and_takes_a_wiped_server_back() -> Result<()> {
    let Some(mut fx) = Fixture::for_test("join-lab") else {
        return Ok(());
    };
    let node1_seed = LabSeed::read(&seeds_dir().join("node1"))?;
    let node2_seed = LabSeed::read(&seeds_dir().join("node2"))?;
    let node3_seed = LabSeed::read(&seeds_dir().join("node3"))?;
    let size = (lab::MEMORY_MIB, lab::CPUS);
    let segment = free_port()?;
    let started = Instant::now();
    let node1_state = fx.state_disk("node1-state", lab::STATE_DISK_MIB)?;
    let node2_state = fx.state_disk("node2-state", lab::STATE_DISK_MIB)?;
    let node3_state = fx.state_disk("node3-state", lab::STATE_DISK_MIB)?;
    let node1 = boot_lab(&mut fx, &node1_seed, segment, &node1_state, size)?;
    node1.wait_ready(READY_TIMEOUT)?;
    // The joiners once node1 serves, as `cargo xtask lab up` starts them: they could not join
    // before, and three emulated machines starting at once on two host cores slow down the
    // control plane every join waits for.
    let first_apiserver = node1
        .console()
        .arrival(r"service kube-apiserver: ready", CONTROL_PLANE)?;
    let mut node2 = boot_lab(&mut fx, &node2_seed, segment, &node2_state, size)?;
    let mut node3 = boot_lab(&mut fx, &node3_seed, segment, &node3_state, size)?;
    let kubectl = kubectl();
    let members = ["node1", "node2", "node3"];

    // The lab forms.
    for (node, name) in [(&node2, "node2"), (&node3, "node3")] {
        node.console().arrival(
            &format!(r"etcd promote: {name} is a voting member"),
            CONTROL_PLANE,
        )?;
    }
    let mut sh1 = Session::open(&node1, Duration::from_secs(120))?;
    wait_voting(&mut sh1, &members, CONTROL_PLANE)?;
    let etcd_formed = started.elapsed();
    let wanted = [
        ("node1", genestack_labels(&node1_seed.seed.user_data)?),
        ("node2", genestack_labels(&node2_seed.seed.user_data)?),
        ("node3", genestack_labels(&node3_seed.seed.user_data)?),
    ];
    wait_nodes_labelled(&mut sh1, &wanted, CONTROL_PLANE)?;
    let all_ready = started.elapsed();
    let apiserver = regex::Regex::new("service kube-apiserver")?;
    ensure!(
        node3.console().matching(&apiserver).is_empty(),
        "an agent runs no apiserver"
    );
    let kept = node3
        .console()
        .matching(&regex::Regex::new("from kubeadm-certs")?);
    ensure!(
        !kept.is_empty() && kept.iter().all(|l| l.contains("the etcd CA")),
        "an agent keeps the etcd CA alone: {kept:?}"
    );
    let mut sh3 = Session::open(&node3, Duration::from_secs(120))?;
    let pki = "/var/lib/plinth/pki";
    let only = sh3.run(&format!(
        "test -e {pki}/etcd/ca.key && test -e {pki}/etcd/peer.crt && test ! -e {pki}/ca.key && \
         test ! -e {pki}/sa.key && test ! -e {pki}/front-proxy-ca.key && echo etcd-set-only"
    ))?;
    ensure!(
        only.text.contains("etcd-set-only"),
        "an agent holds the etcd CA and certificates, never the cluster's other keys: {only:?}"
    );
    drop(sh3);
    let mut sh2 = Session::open(&node2, Duration::from_secs(120))?;
    create_configmap(&mut sh2, "written-through-node2")?;

    // node3 loses power: node1 and node2 are a quorum, and writes go on through both.
    node3.qmp()?.quit()?;
    node3.wait_exit(Duration::from_secs(60))?;
    drop(node3);
    let off = Instant::now();
    create_configmap(&mut sh1, "written-through-node1-while-node3-was-off")?;
    create_configmap(&mut sh2, "written-through-node2-while-node3-was-off")?;
    let written_while_off = off.elapsed();
    drop(sh2);

    // node3 boots again with its state: no discovery again, the same member, Ready again.
    let node3 = boot_lab(&mut fx, &node3_seed, segment, &node3_state, size)?;
    let again = Instant::now();
    node3.console().arrival(
        r"cluster join: node3 joined https://192\.0\.2\.11:6443 on an earlier boot",
        CONTROL_PLANE,
    )?;
    let mut sh3 = Session::open(&node3, Duration::from_secs(120))?;
    wait_heartbeat_since_boot(&mut sh3, "node3")?;
    let report = healthy_report(&mut sh3)?;
    let node3_back = again.elapsed();
    ensure!(
        report["etcd_members"].as_array().map(Vec::len) == Some(3),
        "node3 sees three members: {report}"
    );
    drop(sh3);

    // node2 loses power and its data: a blank state disk. Its stale member goes, it joins again,
    // and its new apiserver serves what was written while node3 was off.
    node2.qmp()?.quit()?;
    node2.wait_exit(Duration::from_secs(60))?;
    drop(node2);
    let wiped = Instant::now();
    let blank = fx.state_disk("node2-blank-state", lab::STATE_DISK_MIB)?;
    let node2 = boot_lab(&mut fx, &node2_seed, segment, &blank, size)?;
    node2
        .console()
        .arrival(r"etcd join: removing the stale member node2", CONTROL_PLANE)?;
    node2
        .console()
        .arrival(r"etcd promote: node2 is a voting member", CONTROL_PLANE)?;
    wait_voting(&mut sh1, &members, CONTROL_PLANE)?;
    let mut sh2 = Session::open(&node2, Duration::from_secs(120))?;
    wait_heartbeat_since_boot(&mut sh2, "node2")?;
    for name in [
        "written-through-node1-while-node3-was-off",
        "written-through-node2-while-node3-was-off",
    ] {
        sh2.run_every(
            &format!("{kubectl} get configmap {name} -o name"),
            &format!("configmap/{name}"),
            CONTROL_PLANE,
            ASK,
        )?;
    }
    let rejoined = wiped.elapsed();
    let join = join_check(&healthy_report(&mut sh2)?);
    ensure!(join["state"] == "ok", "node2's join check: {join}");
    eprintln!(
        "the lab under {:?}: node1's apiserver ready {:.1}s; etcd with three voting members {:.1}s and three \
         Nodes Ready with their labels {:.1}s after the first QEMU start; with node3 powered off two writes \
         took {:.1}s; node3 Ready and healthy again {:.1}s after it booted again; node2, wiped, voting and \
         Ready again {:.1}s after its new boot",
        fx.accel,
        first_apiserver.as_secs_f64(),
        etcd_formed.as_secs_f64(),
        all_ready.as_secs_f64(),
        written_while_off.as_secs_f64(),
        node3_back.as_secs_f64(),
        rejoined.as_secs_f64(),
    );
    Ok(())
}
