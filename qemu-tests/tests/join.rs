//! An agent joins a running cluster on its first boot with nothing but its config, as `kubeadm
//! join` would: the lab's init node (`configs/examples/lab/node1`) forms a one-node cluster; an
//! agent on the same QEMU segment boots with a bootstrap token that does not exist yet and the CA
//! pin of that cluster, says on its console that the cluster does not know its token and keeps
//! trying; a `kubectl`-made bootstrap token Secret then lets it in. Its kubelet's client
//! certificate is issued by the cluster (an approved CSR), its Node becomes Ready with the
//! Genestack labels its kubelet may set and the `node-role.kubernetes.io/worker` label the init
//! node's `cluster-roles` keeper grants from its declaration, a pod runs on it with an address of
//! its podCIDR, and its `plinthctl cluster` says it joined.
//!
//! Both nodes PXE-boot (a root shell on ttyS1) with a state disk: the init node 3 GiB and two
//! vCPUs (a control plane), the agent 2 GiB and one. Prints how long each step took.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, ensure};
use qemu_tests::cmdline::Nic;
use qemu_tests::node::{BootOptions, Fixture, Node, READY_TIMEOUT, Variant};
use qemu_tests::ports::free_port;
use qemu_tests::seed::{Seed, SeedFormat};
use qemu_tests::session::Session;
use regex::Regex;

/// Under TCG the first boot makes the PKI, starts etcd and waits minutes for the apiserver.
const CONTROL_PLANE: Duration = Duration::from_secs(900);
/// The admin kubeconfig on a control plane.
const ADMIN: &str = "/var/lib/plinth/kubernetes/admin.conf";
/// The init node's lab address and the agent's.
const INIT_ADDRESS: &str = "192.0.2.11";
const AGENT_ADDRESS: &str = "192.0.2.14";

fn lab_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/examples/lab")
}

/// Waits for the console line matching `pattern`; how long after QEMU started it came.
fn console_line(node: &Node, pattern: &str, timeout: Duration) -> Result<Duration> {
    let line = node
        .console()
        .wait_for(&Regex::new(pattern)?, timeout)
        .with_context(|| {
            format!(
                "no `{pattern}` on the console; console:\n{}",
                node.console().tail(60)
            )
        })?;
    Ok(line.at)
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
fn agent_user_data(token: &str, pin: &str) -> String {
    format!(
        r#"#cloud-config
manage_etc_hosts: true
network:
  version: 2
  ethernets:
    lab0:
      match:
        macaddress: "52:54:00:0c:00:14"
      set-name: lab0
      addresses: [{AGENT_ADDRESS}/24]
    mgmt0:
      match:
        macaddress: "52:54:00:0c:01:14"
      set-name: mgmt0
      dhcp4: true
      optional: true
plinth:
  cluster:
    name: lab
    role: agent
    endpoint: https://{INIT_ADDRESS}:6443
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

/// The JSON document in a command's output: from the first `{` to the end of that value (a
/// failing `plinthctl cluster` adds a line on stderr after it).
fn json_of(text: &str) -> Result<serde_json::Value> {
    let start = text.find('{').unwrap_or(0);
    serde_json::Deserializer::from_str(&text[start..])
        .into_iter::<serde_json::Value>()
        .next()
        .context("no JSON")?
        .with_context(|| format!("not JSON: {text}"))
}

#[test]
fn an_agent_joins_by_a_token_made_after_the_cluster_formed() -> Result<()> {
    let Some(mut fx) = Fixture::for_test("join-agent") else {
        return Ok(());
    };
    let segment = free_port()?;
    let started = Instant::now();

    // The init node of the lab, as its seed says.
    let mut opts = BootOptions::new(Variant::Pxe);
    opts.disk = Some(fx.state_disk("node1-state", 4096)?);
    opts.seed = Some(fx.seed(
        "node1",
        &Seed::from_dir(&lab_dir().join("node1"))?,
        SeedFormat::Vfat,
    )?);
    opts.memory_mib = 3072;
    opts.cpus = 2;
    opts.nics = vec![
        Nic::segment(segment).with_mac("52:54:00:0c:00:11"),
        Nic::user().with_mac("52:54:00:0c:01:11"),
    ];
    opts.serial2 = true;
    opts.extra_cmdline = Some("plinth.autologin=ttyS1".into());
    let node1 = fx.boot(&opts)?;
    node1.wait_ready(READY_TIMEOUT)?;
    let mut sh1 = Session::open(&node1, Duration::from_secs(120))?;
    let kubectl = format!("kubectl --kubeconfig {ADMIN}");

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
    let mut opts = BootOptions::new(Variant::Pxe);
    opts.disk = Some(fx.state_disk("node4-state", 4096)?);
    let seed = Seed::new(&agent_user_data(&token, &pin), "plinth-lab-node4", "node4");
    opts.seed = Some(fx.seed("node4", &seed, SeedFormat::Vfat)?);
    opts.memory_mib = 2048;
    opts.cpus = 1;
    opts.nics = vec![
        Nic::segment(segment).with_mac("52:54:00:0c:00:14"),
        Nic::user().with_mac("52:54:00:0c:01:14"),
    ];
    opts.serial2 = true;
    opts.extra_cmdline = Some("plinth.autologin=ttyS1".into());
    let node4 = fx.boot(&opts)?;
    let agent_started = Instant::now();
    node4.wait_ready(READY_TIMEOUT)?;

    // It says, once, why it waits: node1's apiserver is not up yet, or it does not know the token.
    console_line(
        &node4,
        r"cluster join: discovery of https://192\.0\.2\.11:6443: .*retrying with backoff",
        CONTROL_PLANE,
    )?;
    // Once node1 serves and has signed cluster-info for its own token, the agent's token is the
    // trouble: no signature for it.
    sh1.run_until(
        &format!("{kubectl} -n kube-public get configmap cluster-info -o jsonpath='{{.data}}'"),
        "jws-kubeconfig-",
        CONTROL_PLANE,
    )?;
    let unknown = console_line(
        &node4,
        &format!(r"cluster join: discovery of .*token id {token_id}"),
        Duration::from_secs(300),
    )?;
    {
        let mut sh4 = Session::open(&node4, Duration::from_secs(120))?;
        let status = sh4.run("plinthctl cluster -o json")?;
        let report: serde_json::Value = json_of(&status.text)
            .with_context(|| format!("plinthctl cluster -o json: {status:?}"))?;
        let join = report["checks"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["name"] == "join"))
            .cloned()
            .ok_or_else(|| anyhow!("no join check: {report}"))?;
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
    let labels: serde_json::Value =
        json_of(&labels.text).with_context(|| format!("labels: {labels:?}"))?;
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
    console_line(
        &node4,
        r"cluster roles: node node4: the cluster granted its node-role labels",
        Duration::from_secs(600),
    )?;

    // A pod runs on it, with an address of its podCIDR.
    let pod = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"on-agent","namespace":"default"},"spec":{"nodeName":"node4","containers":[{"name":"pause","image":"localhost/plinth/pause:1","imagePullPolicy":"Never"}],"terminationGracePeriodSeconds":1}}"#;
    let applied = sh1.run(&format!("echo '{pod}' | {kubectl} apply -f -"))?;
    ensure!(applied.status == 0, "kubectl apply: {applied:?}");
    let running = sh1.run_until(
        &format!("{kubectl} get pod on-agent -o jsonpath='{{.status.phase}} {{.status.podIP}}'"),
        "Running ",
        Duration::from_secs(600),
    )?;
    let pod_ip = running
        .text
        .split_whitespace()
        .nth(1)
        .context("the running pod has no address")?
        .to_owned();
    let cidr = sh1.run(&format!(
        "{kubectl} get node node4 -o jsonpath='{{.spec.podCIDR}}'"
    ))?;
    ensure!(
        cidr.text
            .trim()
            .split('.')
            .take(3)
            .eq(pod_ip.split('.').take(3)),
        "pod address {pod_ip} is outside node4's podCIDR {}",
        cidr.text.trim()
    );
    let pod_running = agent_started.elapsed();

    // plinthctl cluster on the agent: joined, and healthy.
    let mut sh4 = Session::open(&node4, Duration::from_secs(120))?;
    let status = sh4.run_until(
        "plinthctl cluster -o json",
        "\"healthy\": true",
        Duration::from_secs(300),
    );
    let status = match status {
        Ok(out) => out,
        Err(e) => {
            let shown = sh4.run("plinthctl cluster")?;
            return Err(anyhow!("{e}\nplinthctl cluster:\n{}", shown.text));
        }
    };
    let report: serde_json::Value = json_of(&status.text)?;
    let join = report["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "join"))
        .cloned()
        .unwrap_or_default();
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

/// One lab node's boot: PXE with a root shell on ttyS1, a state disk, the lab NIC with the
/// seed's MAC on `segment` and the mgmt NIC on the user network.
fn lab_boot(fx: &mut Fixture, n: u8, segment: u16, state: &str, memory_mib: u32) -> Result<Node> {
    let name = format!("node{n}");
    let mut opts = BootOptions::new(Variant::Pxe);
    opts.disk = Some(fx.state_disk(state, 4096)?);
    opts.seed = Some(fx.seed(
        &name,
        &Seed::from_dir(&lab_dir().join(&name))?,
        SeedFormat::Vfat,
    )?);
    opts.memory_mib = memory_mib;
    opts.cpus = 2;
    opts.nics = vec![
        Nic::segment(segment).with_mac(&format!("52:54:00:0c:00:1{n}")),
        Nic::user().with_mac(&format!("52:54:00:0c:01:1{n}")),
    ];
    opts.serial2 = true;
    opts.extra_cmdline = Some("plinth.autologin=ttyS1".into());
    Ok(fx.boot(&opts)?)
}

/// etcd's members as `plinthctl cluster -o json` reports them: (name, learner).
fn etcd_members(sh: &mut Session<'_>) -> Result<Vec<(String, bool)>> {
    let out = sh.run("plinthctl cluster -o json")?;
    let report: serde_json::Value =
        json_of(&out.text).with_context(|| format!("plinthctl cluster -o json: {out:?}"))?;
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

/// Polls until etcd has the members `names`, all voting.
fn wait_voting(sh: &mut Session<'_>, names: &[&str], timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let members = etcd_members(sh)?;
        let mut seen: Vec<&str> = members
            .iter()
            .filter(|(_, learner)| !learner)
            .map(|(n, _)| n.as_str())
            .collect();
        seen.sort_unstable();
        if seen == names && members.len() == names.len() {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "etcd never had the voting members {names:?}: {members:?}"
        );
        std::thread::sleep(Duration::from_secs(5));
    }
}

/// The lab of `configs/examples/lab` forms: node1 starts the cluster, node2 and node3 join it as
/// control planes (their etcd members added as learners, one at a time, and promoted), three
/// Nodes Ready with their Genestack labels and a three-member voting etcd. With node3 powered
/// off the cluster still takes writes; node3 then boots with its state partition wiped and
/// rejoins (its stale etcd member removed and added again).
///
/// Not in every run: on this project's two-core machines both servers joined (etcd grew to three
/// voting members 150 s after the first QEMU start), but three control planes under emulation
/// then starved each other — apiserver handler timeouts, the controller-manager and scheduler
/// losing their leases and restarting — and the servers' Nodes never got Ready within 17 minutes.
#[test]
#[ignore = "three control planes under TCG overload a two-core host (handler timeouts, lost leases): run it alone with `cargo nextest run -p qemu-tests --test join --run-ignored only` on a larger host"]
fn the_lab_forms_three_control_planes_and_one_rejoins_after_losing_its_data() -> Result<()> {
    let Some(mut fx) = Fixture::for_test("join-lab") else {
        return Ok(());
    };
    let (labels, _) = plinth_config::genestack::labels_and_annotations(
        &plinth_config::load_path(&lab_dir().join("node2/user-data"))?
            .config
            .plinth
            .genestack,
    );
    let segment = free_port()?;
    let started = Instant::now();
    let node1 = lab_boot(&mut fx, 1, segment, "node1-state", 3072)?;
    node1.wait_ready(READY_TIMEOUT)?;
    // The servers once node1 serves: they could not join before, and three emulated machines
    // on two host cores would slow down the control plane every join waits for.
    let first_apiserver = console_line(&node1, r"service kube-apiserver: ready", CONTROL_PLANE)?;
    let node2 = lab_boot(&mut fx, 2, segment, "node2-state", 2560)?;
    let mut node3 = lab_boot(&mut fx, 3, segment, "node3-state", 2560)?;
    let mut sh1 = Session::open(&node1, Duration::from_secs(120))?;
    let kubectl = format!("kubectl --kubeconfig {ADMIN}");

    wait_voting(
        &mut sh1,
        &["node1", "node2", "node3"],
        Duration::from_secs(1800),
    )?;
    let etcd_formed = started.elapsed();
    let ready = r#"{range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status} {end}"#;
    sh1.run_until(
        &format!("{kubectl} get nodes -o jsonpath='{ready}' | grep -c =True | grep -qx 3 && echo three-ready"),
        "three-ready",
        Duration::from_secs(1800),
    )?;
    let nodes_ready = started.elapsed();
    let shown = sh1.run(&format!("{kubectl} get nodes -o json"))?;
    let nodes: serde_json::Value = json_of(&shown.text)?;
    for item in nodes["items"].as_array().cloned().unwrap_or_default() {
        let name = item["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        for (key, value) in &labels {
            ensure!(
                item["metadata"]["labels"][key] == value.as_str(),
                "{name}: label {key}={value} missing: {}",
                item["metadata"]["labels"]
            );
        }
    }
    for node in [&node2, &node3] {
        console_line(
            node,
            r"etcd promote: node\d is a voting member",
            Duration::from_secs(60),
        )?;
    }

    // node3 powered off: the other two keep quorum and take writes.
    node3.vm().kill();
    let wrote = sh1.run_until(
        &format!("{kubectl} create configmap written-with-node3-off --from-literal=at=$(date +%s)"),
        "created",
        Duration::from_secs(300),
    )?;
    ensure!(wrote.status == 0, "a write with node3 off: {wrote:?}");
    drop(node3);

    // node3 again, its state partition wiped: it rejoins.
    let rejoin = Instant::now();
    let node3 = lab_boot(&mut fx, 3, segment, "node3-state-wiped", 2560)?;
    console_line(
        &node3,
        r"etcd join: removing the stale member node3",
        Duration::from_secs(1200),
    )?;
    wait_voting(
        &mut sh1,
        &["node1", "node2", "node3"],
        Duration::from_secs(1200),
    )?;
    let rejoined = rejoin.elapsed();
    sh1.run_until(
        &format!("{kubectl} get configmap written-with-node3-off -o name"),
        "configmap/written-with-node3-off",
        Duration::from_secs(60),
    )?;
    let mut sh3 = Session::open(&node3, Duration::from_secs(120))?;
    sh3.run_until(
        "kubectl --kubeconfig /var/lib/plinth/kubernetes/admin.conf get configmap written-with-node3-off -o name",
        "configmap/written-with-node3-off",
        Duration::from_secs(900),
    )?;
    eprintln!(
        "lab under {:?}: node1's apiserver ready {:.1}s, etcd with three voting members {:.1}s, three Nodes Ready {:.1}s \
         after the first QEMU start; node3 with a wiped state partition a voting member again {:.1}s after its QEMU start",
        fx.accel,
        first_apiserver.as_secs_f64(),
        etcd_formed.as_secs_f64(),
        nodes_ready.as_secs_f64(),
        rejoined.as_secs_f64()
    );
    Ok(())
}
