//! The command line of `plinth-agent etcd …`: `join` (before this node's etcd starts: add it as
//! a learner, or find it already a member) and `promote` (once it runs: make it a voting
//! member), turned into [`run`]'s options.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand};

use super::members::Me;
use super::run::{self, JoinOptions, PromoteOptions, StartState};
use crate::cluster::client::runtime;

/// `plinth-agent etcd`.
#[derive(Args, Debug)]
pub struct EtcdArgs {
    #[command(subcommand)]
    pub command: EtcdCommand,
}

#[derive(Subcommand, Debug)]
pub enum EtcdCommand {
    /// Before this node's etcd starts: add it to the cluster as a learner (first removing a
    /// member of its name or peer URL whose data is gone), or find it a member with its data;
    /// write how etcd is to start (`{"initial_cluster": …, "state": "existing"|"start"}`).
    Join(JoinArgs),
    /// Once this node's etcd runs: promote its learner to a voting member when etcd lets it
    /// (caught up with the leader). Exit 0 at once when it already votes.
    Promote(PromoteArgs),
}

/// Who this node is, and whom to ask.
#[derive(Args, Debug)]
pub struct MemberArgs {
    /// A client URL of an existing member (repeatable), asked in order.
    #[arg(long = "endpoint", value_name = "URL", required = true)]
    pub endpoints: Vec<String>,
    /// The PKI directory (kubeadm's layout: `etcd/ca.crt`, `apiserver-etcd-client.crt`, …).
    #[arg(long, value_name = "DIR", default_value = "/var/lib/plinth/pki")]
    pub pki_dir: PathBuf,
    /// This member's name (the node's).
    #[arg(long, value_name = "NAME")]
    pub name: String,
    /// The peer URL this member advertises (`https://192.0.2.12:2380`).
    #[arg(long, value_name = "URL")]
    pub peer_url: String,
}

impl MemberArgs {
    fn me(&self) -> Me {
        Me {
            name: self.name.clone(),
            peer_url: self.peer_url.clone(),
        }
    }
}

#[derive(Args, Debug)]
pub struct JoinArgs {
    #[command(flatten)]
    pub member: MemberArgs,
    /// This node's etcd data directory (only looked at: does it hold a member?).
    #[arg(long, value_name = "DIR", default_value = "/var/lib/etcd")]
    pub data_dir: PathBuf,
    /// Where to write how etcd is to start (JSON, mode 0600).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// How long to keep retrying etcd's passing refusals.
    #[arg(long, value_name = "SECONDS", default_value_t = run::DEFAULT_JOIN_TIMEOUT.as_secs())]
    pub timeout: u64,
}

#[derive(Args, Debug)]
pub struct PromoteArgs {
    #[command(flatten)]
    pub member: MemberArgs,
    /// How long to keep retrying (a learner under emulation catches up slowly).
    #[arg(long, value_name = "SECONDS", default_value_t = run::DEFAULT_PROMOTE_TIMEOUT.as_secs())]
    pub timeout: u64,
}

/// Runs `plinth-agent etcd …`.
pub fn run(args: EtcdArgs) -> anyhow::Result<()> {
    let rt = runtime()?;
    match args.command {
        EtcdCommand::Join(a) => {
            let options = JoinOptions {
                endpoints: a.member.endpoints.clone(),
                pki_dir: a.member.pki_dir.clone(),
                me: a.member.me(),
                data_dir: a.data_dir,
                timeout: Duration::from_secs(a.timeout),
            };
            let outcome = rt.block_on(run::join(&options)).context("join")?;
            run::write_outcome(&a.out, &outcome).context("join")?;
            let state = match outcome.state {
                StartState::Existing => "existing",
                StartState::Start => "start",
            };
            println!("etcd join: wrote {} ({state})", a.out.display());
            Ok(())
        }
        EtcdCommand::Promote(a) => {
            let options = PromoteOptions {
                endpoints: a.member.endpoints.clone(),
                pki_dir: a.member.pki_dir.clone(),
                me: a.member.me(),
                timeout: Duration::from_secs(a.timeout),
            };
            let promoted = rt.block_on(run::promote(&options)).context("promote")?;
            if promoted.already {
                println!("etcd promote: {} is already a voting member", a.member.name);
            } else {
                println!(
                    "etcd promote: {} is a voting member (after {} {}, {:.1} s)",
                    a.member.name,
                    promoted.tries,
                    if promoted.tries == 1 { "try" } else { "tries" },
                    promoted.took.as_secs_f64()
                );
            }
            Ok(())
        }
    }
}
