//! `etcd join` and `etcd promote`: the membership calls of a joining control plane, each
//! retried with backoff while etcd's refusal is one that passes with time
//! ([`members::retryable`]), each decision said on one line. The identity is the node's
//! `apiserver-etcd-client` ([`EtcdClient::member_admin`]).
//!
//! `join` runs before the node's etcd starts and says how to start it (`--initial-cluster` and
//! `--initial-cluster-state`); `promote` runs once it has started. Both are idempotent: a call
//! that timed out but was done is seen in the next member list.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::client::{CallError, EtcdClient, Gateway};
use super::members::{self, JoinPlan, Me, Member, hex, initial_cluster, plan_join};
use crate::cluster::client::{MAX_BACKOFF, MIN_BACKOFF};
use crate::pki::store;

/// How long `join` keeps trying by default (one learner at a time: another node's join may
/// hold the way for minutes under emulation).
pub const DEFAULT_JOIN_TIMEOUT: Duration = Duration::from_secs(600);
/// How long `promote` keeps trying by default: a learner under TCG catches up slowly.
pub const DEFAULT_PROMOTE_TIMEOUT: Duration = Duration::from_secs(600);

/// What `join` is asked.
#[derive(Clone, Debug)]
pub struct JoinOptions {
    /// Client URLs of existing members, asked in order (the members' own client URLs are added
    /// after the first answer).
    pub endpoints: Vec<String>,
    /// The node's PKI directory (kubeadm's layout).
    pub pki_dir: PathBuf,
    pub me: Me,
    /// This node's etcd data directory (only looked at).
    pub data_dir: PathBuf,
    pub timeout: Duration,
}

/// How the node's etcd is to start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartState {
    /// A new member of an existing cluster: `--initial-cluster-state=existing` with
    /// [`JoinOutcome::initial_cluster`].
    Existing,
    /// A member with its data: start as it is (the initial cluster flags are ignored).
    Start,
}

/// What `join` did and how etcd is to start.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinOutcome {
    pub initial_cluster: String,
    pub state: StartState,
    /// Stale members of ours removed first.
    #[serde(skip)]
    pub removed: Vec<u64>,
    /// The learner added.
    #[serde(skip)]
    pub added: Option<u64>,
}

/// Whether `data_dir` already holds an etcd member (`member/snap/db` or `member/wal`).
pub fn has_data(data_dir: &Path) -> bool {
    let member = data_dir.join("member");
    member.join("snap").join("db").exists() || member.join("wal").exists()
}

/// The pause after each failed try, and the end of patience.
struct Patience {
    who: &'static str,
    start: Instant,
    deadline: Instant,
    pause: Duration,
    tries: u32,
}

impl Patience {
    fn new(who: &'static str, timeout: Duration) -> Self {
        let start = Instant::now();
        Self {
            who,
            start,
            deadline: start + timeout,
            pause: MIN_BACKOFF,
            tries: 0,
        }
    }

    /// After `error` of `what`: pauses and returns when another try may help and there is
    /// time; otherwise the error, saying how many tries were made.
    async fn again(&mut self, what: &str, error: &CallError) -> anyhow::Result<()> {
        let now = Instant::now();
        if !error.retryable() || now >= self.deadline {
            let given_up = if error.retryable() {
                format!(", giving up after {:.0} s", self.elapsed().as_secs_f64())
            } else {
                String::new()
            };
            bail!(
                "{what}: {error} ({} {}{given_up})",
                self.tries,
                if self.tries == 1 { "try" } else { "tries" }
            );
        }
        if self.tries == 1 || self.tries.is_power_of_two() {
            println!("{}: {what}: {}; retrying", self.who, error.message());
        }
        // The last pause is cut short: one more try at the deadline.
        tokio::time::sleep(self.pause.min(self.deadline.saturating_duration_since(now))).await;
        self.pause = (self.pause * 2).min(MAX_BACKOFF);
        Ok(())
    }

    /// The member list: one more try, and as many more as etcd's passing refusals take.
    async fn members(&mut self, gateway: &mut Gateway) -> anyhow::Result<Vec<Member>> {
        loop {
            self.tries += 1;
            match gateway.member_list().await {
                Ok(members) => return Ok(members),
                Err(e) => self.again("listing the members", &e).await?,
            }
        }
    }

    fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
}

/// Says `line` unless it was the last line said (a decision taken again after a retry).
fn say(last: &mut String, line: String) {
    if *last != line {
        println!("{line}");
        *last = line;
    }
}

/// Makes this node a learner of the cluster behind `endpoints` (removing a stale member of its
/// own first), or finds it already is one with its data; says how its etcd is to start.
pub async fn join(options: &JoinOptions) -> anyhow::Result<JoinOutcome> {
    let me = &options.me;
    let mut gateway = Gateway::new(
        EtcdClient::member_admin(&options.pki_dir),
        options.endpoints.clone(),
    );
    let has_data = has_data(&options.data_dir);
    let mut patience = Patience::new("etcd join", options.timeout);
    let mut removed = Vec::new();
    let mut last = String::new();
    loop {
        let members = patience.members(&mut gateway).await?;
        match plan_join(&members, me, has_data) {
            JoinPlan::Start => {
                let id = members::find(&members, me).map_or(0, |m| m.id);
                say(
                    &mut last,
                    format!(
                        "etcd join: {} is a member (id {}) and has its data: starting it as it is",
                        me.name,
                        hex(id)
                    ),
                );
                return Ok(JoinOutcome {
                    initial_cluster: initial_cluster(&members, me),
                    state: StartState::Start,
                    removed,
                    added: None,
                });
            }
            JoinPlan::Refuse(why) => bail!("{why} ({})", options.data_dir.display()),
            JoinPlan::Remove(stale) => {
                let line = if stale.started() {
                    format!(
                        "etcd join: removing the stale member {} (id {}): its data was lost",
                        stale.name,
                        hex(stale.id)
                    )
                } else {
                    format!(
                        "etcd join: removing the member {} added for {} that never started",
                        hex(stale.id),
                        stale.peer_urls.join(",")
                    )
                };
                say(&mut last, line);
                match gateway.member_remove(stale.id).await {
                    Ok(()) => removed.push(stale.id),
                    // An earlier try that got no answer was done: the next list says so.
                    Err(e) if e.message().contains("member not found") => {}
                    Err(e) => patience.again("removing the member", &e).await?,
                }
            }
            JoinPlan::Add => {
                say(
                    &mut last,
                    format!(
                        "etcd join: adding {} ({}) as a learner",
                        me.name, me.peer_url
                    ),
                );
                match gateway
                    .member_add(std::slice::from_ref(&me.peer_url), true)
                    .await
                {
                    Ok(added) => {
                        let mut after = added.members;
                        if !after.iter().any(|m| m.id == added.member.id) {
                            after.push(added.member.clone());
                        }
                        let initial_cluster = initial_cluster(&after, me);
                        println!(
                            "etcd join: {} is learner {}; start it with --initial-cluster={initial_cluster} --initial-cluster-state=existing",
                            me.name,
                            hex(added.member.id)
                        );
                        return Ok(JoinOutcome {
                            initial_cluster,
                            state: StartState::Existing,
                            removed,
                            added: Some(added.member.id),
                        });
                    }
                    // An earlier try that got no answer was done, and its member never started:
                    // the next plan removes it and adds again.
                    Err(e) if e.message().contains("Peer URLs already exists") => {}
                    Err(e) => patience.again("adding the learner", &e).await?,
                }
            }
        }
    }
}

/// Writes `outcome` to `path` as JSON (`{"initial_cluster": …, "state": "existing"|"start"}`),
/// mode 0600, replacing it atomically.
pub fn write_outcome(path: &Path, outcome: &JoinOutcome) -> anyhow::Result<()> {
    let text = serde_json::to_string(outcome)? + "\n";
    store::replace(path, text.as_bytes(), 0o600).with_context(|| format!("{}", path.display()))
}

/// What `promote` is asked.
#[derive(Clone, Debug)]
pub struct PromoteOptions {
    /// Client URLs asked in order. This node's own (`https://127.0.0.1:2379`) is not enough
    /// while it is a learner: etcd 3.5's learner serves only its status and serializable reads,
    /// not even the member list, so a voting member's URL (the one `join` was given) must be
    /// among them; the members' client URLs are added after the first answer.
    pub endpoints: Vec<String>,
    pub pki_dir: PathBuf,
    pub me: Me,
    pub timeout: Duration,
}

/// What `promote` found or did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Promoted {
    pub id: u64,
    /// It was a voting member before this run promoted anything.
    pub already: bool,
    /// Member lists asked (each after a pause but the first).
    pub tries: u32,
    pub took: Duration,
}

/// Promotes this node's learner once etcd lets it (it has started and caught up with the
/// leader); an already voting member is left as it is.
pub async fn promote(options: &PromoteOptions) -> anyhow::Result<Promoted> {
    let me = &options.me;
    let mut gateway = Gateway::new(
        EtcdClient::member_admin(&options.pki_dir),
        options.endpoints.clone(),
    );
    let mut patience = Patience::new("etcd promote", options.timeout);
    let mut promoted = false;
    loop {
        let members = patience.members(&mut gateway).await?;
        let Some(member) = members::find(&members, me) else {
            bail!(
                "{} ({}) is not a member of the cluster: `etcd join` adds it",
                me.name,
                me.peer_url
            );
        };
        if !member.is_learner {
            return Ok(Promoted {
                id: member.id,
                already: !promoted,
                tries: patience.tries,
                took: patience.elapsed(),
            });
        }
        if !members::is_promotable(member) {
            // Its etcd has not started yet, or not reached the leader: wait as for "not in sync".
            let waiting = CallError::Refused {
                status: 0,
                code: None,
                message: format!(
                    "learner {} has not started yet (not in sync with leader)",
                    hex(member.id)
                ),
            };
            patience.again("waiting for the learner", &waiting).await?;
            continue;
        }
        match gateway.member_promote(member.id).await {
            Ok(()) => promoted = true,
            // An earlier try that got no answer was done: the next list says so.
            Err(e)
                if e.message().contains("can only promote a learner member")
                    && !e.message().contains("in sync") =>
            {
                promoted = true;
            }
            Err(e) => patience.again("promoting the learner", &e).await?,
        }
    }
}
