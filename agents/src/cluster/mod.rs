//! The cluster from a node's side: what an `init` node's services run ([`node`], written by
//! `plinth-agent cluster prep`: [`prep`], [`address`]; started by [`exec`]; its bridge network
//! [`cni`]), what each control-plane component is started with
//! ([`flags`]), the objects a kubeadm cluster has (`plinth-agent cluster bootstrap`: [`objects`],
//! [`certs`], [`bootstrap`]), the apiserver's readiness probe ([`healthy`]), the Genestack labels kept on the Node (`plinth-agent cluster
//! labels`: [`labels`], [`labeller`]), how the node's part of it is (`plinth-agent cluster
//! status`: [`status`] orchestrating the probes of [`checks`], decided in [`verdict`], printed by
//! [`report`]), the join secrets ([`token`]) and the detached JWS of cluster-info ([`jws`]). Pure
//! decisions beside the kube-rs effects ([`client`]); the PKI they read is made by `pki`.

pub mod address;
pub mod bootstrap;
pub mod certs;
pub mod checks;
pub mod cli;
pub mod client;
pub mod cni;
pub mod exec;
pub mod flags;
pub mod healthy;
pub mod join_state;
pub mod joiner;
pub mod jws;
pub mod labeller;
pub mod labels;
pub mod node;
pub mod objects;
pub mod prep;
pub mod report;
pub mod roles;
pub mod roles_check;
pub mod roles_keeper;
pub mod status;
pub mod token;
pub mod verdict;
