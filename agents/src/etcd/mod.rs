//! A stacked etcd grown one member at a time: a joining control plane adds itself as a learner
//! before its etcd starts (`plinth-agent etcd join`), and is promoted to a voting member once
//! its etcd has caught up (`plinth-agent etcd promote`); a member whose data was lost is
//! removed and added again. The decisions are pure ([`members`]); the calls go to etcd's v3
//! JSON gateway ([`client`], also the TLS client of `cluster status`); [`run`] retries them and
//! [`cli`] is the command line.

pub mod cli;
pub mod client;
pub mod members;
pub mod run;
