//! Joining a kubeadm cluster, the joiner's side: kubeadm's token discovery of the cluster's
//! apiserver and CA ([`discovery`], the CA pin [`pin`]), a joining control plane's shared PKI from
//! `kube-system/kubeadm-certs` ([`certs`]), and the kubelet's bootstrap kubeconfig
//! ([`kubeconfig`]). Pure decisions beside the requests, which go through kube-rs as in
//! `cluster`; the secrets (the token, the certificate key, the keys fetched) are never printed.

pub mod certs;
pub mod discovery;
pub mod kubeconfig;
pub mod pin;
