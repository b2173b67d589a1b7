//! The cluster's processes on a node: what each control-plane component is started with
//! ([`flags`]). Pure decisions here; the PKI they read is made by `pki`.

pub mod flags;
