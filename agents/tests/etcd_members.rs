//! `plinth-agent etcd join` and `etcd promote` against the image's REAL etcd (3.5) on loopback:
//! three members grown one learner at a time, each started with the product's flags
//! (`cluster::flags`) and the `--initial-cluster` `join` returned, sharing one PKI made by the
//! product's `pki` (its server and peer certificates name 127.0.0.1):
//!
//! - A starts as a new one-member cluster; B joins through the CLI (the file it writes is what
//!   B starts with), starts as a learner and is promoted;
//! - while B is still a learner, adding C is refused ("too many learner members"), classified
//!   retryable, and C's `join` succeeds once B is promoted; C starts and is promoted (its own
//!   endpoint alone, a learner's, is refused at once: a learner serves no member list);
//! - B loses its data: `join` removes its stale member and adds it again, B restarts with the
//!   new `--initial-cluster` and is promoted; a `join` with its data then says "start";
//! - with C stopped, a write through the others succeeds.
//!
//! Without the image's etcd (or `PLINTH_ETCD_BIN`) the test is skipped, failed with `CI=true`.
//! Files and logs: `target/etcd-members/`.

mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use plinth_agents::cluster::client::runtime;
use plinth_agents::cluster::flags;
use plinth_agents::etcd::client::{EtcdClient, Gateway};
use plinth_agents::etcd::members::{Me, Member};
use plinth_agents::etcd::run::{self, JoinOptions, PromoteOptions, StartState};
use qemu_tests::paths::{RunDir, target_dir};
use support::control_plane::{
    Binary, Pki, Process, SERVICE_CIDR, first_service_ip, free_ports, tail,
};

const TEST: &str = "etcd_members";
/// How long a member may take to start, or a join or promotion to succeed.
const PATIENCE: Duration = Duration::from_secs(180);

/// One etcd member on loopback: its ports, data directory and process.
struct Node {
    name: String,
    client: u16,
    peer: u16,
    metrics: u16,
    dir: PathBuf,
    process: Option<Process>,
}

impl Node {
    fn new(dir: &Path, name: &str) -> Self {
        let [client, peer, metrics] = free_ports();
        Self {
            name: name.into(),
            client,
            peer,
            metrics,
            dir: dir.to_path_buf(),
            process: None,
        }
    }

    fn endpoint(&self) -> String {
        format!("https://127.0.0.1:{}", self.client)
    }

    fn me(&self) -> Me {
        Me {
            name: self.name.clone(),
            peer_url: format!("https://127.0.0.1:{}", self.peer),
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.join(format!("{}-data", self.name))
    }

    fn log(&self) -> PathBuf {
        self.dir.join(format!("etcd-{}.log", self.name))
    }

    /// The node's etcd command line (`cluster::flags`), joining with `initial_cluster` and
    /// `--initial-cluster-state=existing` when given, without fsync (the data is thrown away).
    fn args(&self, joining: Option<&str>) -> Vec<String> {
        let plane = flags::ControlPlane {
            node_name: self.name.clone(),
            address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            cluster_name: "plinth-etcd-test".into(),
            etcd_client_port: self.client,
            etcd_peer_port: self.peer,
            etcd_metrics_port: self.metrics,
            apiserver_port: 6443,
            service_cidr: SERVICE_CIDR.into(),
            pod_cidr: "10.244.0.0/16".into(),
            cluster_domain: "cluster.local".into(),
            paths: flags::Paths {
                pki: self.dir.join("pki"),
                kubeconfigs: self.dir.join("kubernetes"),
                etcd_data: self.data(),
            },
            extra: flags::ExtraArgs::default(),
        };
        let mut extra = vec!["--unsafe-no-fsync=true".to_string()];
        if let Some(initial) = joining {
            extra.push(format!("--initial-cluster={initial}"));
            extra.push("--initial-cluster-state=existing".into());
        }
        flags::merge(plane.etcd(), &extra)
    }

    fn start(&mut self, etcd: &Binary, joining: Option<&str>) {
        let name = format!("etcd-{}", self.name);
        self.process = Some(Process::spawn(
            &name,
            &self.dir,
            &etcd.path,
            &self.args(joining),
        ));
    }

    fn stop(&mut self) {
        self.process = None;
    }

    fn join_options(&self, endpoints: Vec<String>) -> JoinOptions {
        JoinOptions {
            endpoints,
            pki_dir: self.dir.join("pki"),
            me: self.me(),
            data_dir: self.data(),
            timeout: PATIENCE,
        }
    }

    /// Promotion through its own endpoint first (refused while it is a learner), then
    /// `others`.
    fn promote_options(&self, others: &[&Self]) -> PromoteOptions {
        let mut endpoints = vec![self.endpoint()];
        endpoints.extend(others.iter().map(|n| n.endpoint()));
        PromoteOptions {
            endpoints,
            pki_dir: self.dir.join("pki"),
            me: self.me(),
            timeout: PATIENCE,
        }
    }
}

fn gateway(dir: &Path, nodes: &[&Node]) -> Gateway {
    Gateway::new(
        EtcdClient::member_admin(&dir.join("pki")),
        nodes.iter().map(|n| n.endpoint()).collect(),
    )
}

/// The member list through `nodes`, polled every 500 ms until `done` says so, failing the test
/// (quoting `log`) after [`PATIENCE`].
async fn wait_members(
    dir: &Path,
    nodes: &[&Node],
    what: &str,
    log: &Path,
    done: impl Fn(&[Member]) -> bool,
) -> Vec<Member> {
    let start = Instant::now();
    let mut gateway = gateway(dir, nodes);
    loop {
        let last = match gateway.member_list().await {
            Ok(members) if done(&members) => return members,
            Ok(members) => format!("{members:?}"),
            Err(e) => e.to_string(),
        };
        assert!(
            start.elapsed() < PATIENCE,
            "{what}: not after {} s; last: {last}\nthe end of {}:\n{}",
            PATIENCE.as_secs(),
            log.display(),
            tail(log, 40)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn voting(members: &[Member], names: &[&str]) -> bool {
    members.len() == names.len()
        && names
            .iter()
            .all(|n| members.iter().any(|m| m.name == *n && !m.is_learner))
}

fn agent() -> PathBuf {
    std::env::var_os("PLINTH_AGENT_BIN")
        .map_or_else(|| env!("CARGO_BIN_EXE_plinth-agent").into(), PathBuf::from)
}

#[test]
fn members_join_as_learners_are_promoted_and_rejoin_after_losing_their_data() {
    let Some(etcd) = Binary::etcd(TEST) else {
        return;
    };
    let run_dir = RunDir::fresh_at(target_dir().join("etcd-members")).expect("emptying the dir");
    let dir = run_dir.path().to_path_buf();
    eprintln!("etcd members' files and logs: {}", dir.display());
    Pki::create(
        &dir,
        first_service_ip(SERVICE_CIDR),
        "https://127.0.0.1:6443",
    );
    let mut a = Node::new(&dir, "a");
    let mut b = Node::new(&dir, "b");
    let mut c = Node::new(&dir, "c");
    let rt = runtime().unwrap();
    rt.block_on(async {
        // A: a new one-member cluster, as an `init` node starts it.
        let t = Instant::now();
        a.start(&etcd, None);
        wait_members(&dir, &[&a], "a started", &a.log(), |m| voting(m, &["a"])).await;
        eprintln!(
            "a: a one-member cluster after {:.1} s",
            t.elapsed().as_secs_f64()
        );

        // B joins through the command line; it starts with what `join` wrote.
        let t = Instant::now();
        let out = dir.join("b-join.json");
        let output = Command::new(agent())
            .args(["etcd", "join", "--endpoint", &a.endpoint(), "--pki-dir"])
            .arg(dir.join("pki"))
            .args(["--name", "b", "--peer-url", &b.me().peer_url, "--data-dir"])
            .arg(b.data())
            .arg("--out")
            .arg(&out)
            .args(["--timeout", "120"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "etcd join: {stdout}{stderr}");
        assert!(
            stdout.contains(&format!(
                "etcd join: adding b ({}) as a learner",
                b.me().peer_url
            )),
            "{stdout}"
        );
        assert!(!stdout.contains("PRIVATE KEY") && !stderr.contains("PRIVATE KEY"));
        assert_eq!(
            std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let written: run::JoinOutcome =
            serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        assert_eq!(written.state, StartState::Existing);
        assert_eq!(
            written.initial_cluster,
            format!("a={},b={}", a.me().peer_url, b.me().peer_url)
        );
        b.start(&etcd, Some(&written.initial_cluster));
        wait_members(&dir, &[&a], "b started as a learner", &b.log(), |m| {
            m.iter().any(|m| m.name == "b" && m.is_learner)
        })
        .await;

        // While B is a learner, C cannot be added: etcd 3.5 allows one learner.
        let refused = gateway(&dir, &[&a])
            .member_add(&[c.me().peer_url], true)
            .await
            .expect_err("a second learner");
        eprintln!("adding c while b is a learner: {refused}");
        assert!(
            refused.message().contains("too many learner members"),
            "{refused}"
        );
        assert!(refused.retryable(), "{refused}");

        // C's join waits for B's promotion.
        let c_options = c.join_options(vec![a.endpoint()]);
        let c_join = run::join(&c_options);
        let b_promote = async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            run::promote(&b.promote_options(&[&a])).await
        };
        let (c_joined, b_promoted) = tokio::join!(c_join, b_promote);
        let b_promoted = b_promoted.expect("promoting b");
        assert!(!b_promoted.already);
        eprintln!(
            "b: join → voting member in {:.1} s (promotion: {} tries, {:.1} s)",
            t.elapsed().as_secs_f64(),
            b_promoted.tries,
            b_promoted.took.as_secs_f64()
        );
        let c_joined = c_joined.expect("c's join after b's promotion");
        assert_eq!(c_joined.state, StartState::Existing);
        assert_eq!(
            c_joined.initial_cluster,
            format!(
                "a={},b={},c={}",
                a.me().peer_url,
                b.me().peer_url,
                c.me().peer_url
            )
        );
        let t = Instant::now();
        c.start(&etcd, Some(&c_joined.initial_cluster));
        let alone = run::promote(&c.promote_options(&[])).await.unwrap_err();
        assert!(
            format!("{alone:#}").contains("only learners answered"),
            "{alone:#}"
        );
        let c_promoted = run::promote(&c.promote_options(&[&a]))
            .await
            .expect("promoting c");
        eprintln!(
            "c: started → voting member in {:.1} s ({} tries)",
            t.elapsed().as_secs_f64(),
            c_promoted.tries
        );
        let members = wait_members(&dir, &[&a], "three voting", &a.log(), |m| {
            voting(m, &["a", "b", "c"])
        })
        .await;
        let old_b = members.iter().find(|m| m.name == "b").unwrap().id;
        // Promoting a voting member again says so and changes nothing.
        let again = run::promote(&c.promote_options(&[&a])).await.unwrap();
        assert!(again.already && again.tries == 1, "{again:?}");

        // B loses its data: its stale member is removed and it is added again.
        b.stop();
        std::fs::remove_dir_all(b.data()).unwrap();
        let t = Instant::now();
        let rejoined = run::join(&b.join_options(vec![a.endpoint(), c.endpoint()]))
            .await
            .expect("b's rejoin");
        assert_eq!(rejoined.removed, [old_b]);
        assert_eq!(rejoined.state, StartState::Existing);
        let new_b = rejoined.added.expect("a new member");
        assert_ne!(new_b, old_b);
        b.start(&etcd, Some(&rejoined.initial_cluster));
        let promoted = run::promote(&b.promote_options(&[&a, &c]))
            .await
            .expect("promoting b again");
        eprintln!(
            "b: rejoin → voting member in {:.1} s ({} tries)",
            t.elapsed().as_secs_f64(),
            promoted.tries
        );
        let members = wait_members(&dir, &[&a], "three voting again", &b.log(), |m| {
            voting(m, &["a", "b", "c"])
        })
        .await;
        assert_eq!(members.iter().find(|m| m.name == "b").unwrap().id, new_b);
        // With its data, B's join says to start it as it is.
        let again = run::join(&b.join_options(vec![a.endpoint()]))
            .await
            .unwrap();
        assert_eq!(again.state, StartState::Start);
        assert!(again.removed.is_empty() && again.added.is_none());

        // One of three stopped: writes still pass (after an election if C led).
        c.stop();
        let t = Instant::now();
        let mut writer = gateway(&dir, &[&a, &b]);
        loop {
            match writer.put(b"plinth/test", b"two of three").await {
                Ok(()) => break,
                Err(e) if e.retryable() && t.elapsed() < PATIENCE => {
                    eprintln!("put with c stopped: {e}; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => panic!("put with c stopped: {e}"),
            }
        }
        eprintln!(
            "a write with c stopped passed after {:.1} s",
            t.elapsed().as_secs_f64()
        );
    });
}
