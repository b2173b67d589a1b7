//! `plinth-agents`: the library behind `plinth-agent`, the node's single-purpose helpers run as
//! services supervised by PID 1, one module per subcommand. Today: [`net`], which applies the
//! machine config's network with rtnetlink; [`pki`], which makes and keeps a control-plane node's
//! cluster PKI; [`cluster`], what the cluster's processes run with; [`etcd`], which grows a
//! stacked etcd one learner at a time; [`storage`], which prepares the disks of `plinth.storage`; and [`join`], a joining node's side of kubeadm's discovery
//! and the control planes' shared certificates. `ovs` and
//! `virt` arrive with the issues that need them; heavy dependencies live here, never in the
//! static PID 1.
#![forbid(unsafe_code)]

pub mod cluster;
pub mod etcd;
pub mod join;
pub mod net;
pub mod pki;
pub mod storage;
