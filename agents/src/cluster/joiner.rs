//! The joining part of `cluster prep` on a `server` or an `agent`: kubeadm's join, step by step,
//! each retried with backoff for as long as the cluster is not there (a joiner never gives up and
//! never sends the node to maintenance mode), each trouble said once on the console and kept in
//! `join.json` ([`join_state`]):
//!
//! 1. **discovery** ([`crate::join::discovery`]): cluster-info from `endpoint`, its JWS checked
//!    with the token, the CA checked against `ca_cert_hash` (or, without one, trusted with
//!    kubeadm's unsafe-mode warning, which prints the pin to add);
//! 2. a `server`: the **control-plane certificates** of `kubeadm-certs`, decrypted with the
//!    certificate key and written into the PKI directory ([`crate::join::certs`]), so that
//!    `prep`'s PKI step issues this node's own certificates from the cluster's CAs; an `agent`
//!    with `etcd.member: true` keeps only the etcd CA of them;
//! 3. an etcd member (a `server`, such an `agent`), after the PKI: its **etcd member**, added as
//!    a learner through the existing members ([`crate::etcd`]), a stale one of its name removed
//!    first;
//! 4. an `agent`: the CA and the kubelet's bootstrap kubeconfig (server, CA, token).
//!
//! A node that joined before (an agent whose kubelet holds its credentials, an etcd member whose
//! etcd holds data) skips what it has, so a reboot needs no other node to be up.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use plinth_config::MachineConfig;
use plinth_config::plinth::Role;

use super::join_state::{self, JoinState};
use super::node::{self, BOOTSTRAP_KUBECONFIG, EtcdStart};
use super::token::{BootstrapToken, CertificateKey};
use crate::join::certs;
use crate::join::discovery::{self, Trusted};
use crate::join::pin::CaPin;

/// How long one try of discovery may wait for the cluster before the attempt counts as failed.
const TRY_PATIENCE: Duration = Duration::from_secs(30);
/// Where the etcd member list this node joined with is kept (its `--initial-cluster`).
const INITIAL_CLUSTER: &str = "etcd-initial-cluster";

/// What the joiner is given.
pub struct Joiner<'a> {
    pub config: &'a MachineConfig,
    pub name: &'a str,
    pub address: std::net::IpAddr,
    /// The state root (`pki/`, `kubernetes/` below it).
    pub root: &'a Path,
    /// `<root>/cluster`: the kept secrets and what the join decided.
    pub state: &'a Path,
    /// Where `join.json` goes.
    pub run_dir: &'a Path,
    pub token_file: &'a Path,
    pub certificate_key_file: Option<&'a Path>,
}

impl Joiner<'_> {
    fn endpoint(&self) -> &str {
        self.config
            .plinth
            .cluster
            .endpoint
            .as_deref()
            .unwrap_or_default()
    }

    fn pki(&self) -> PathBuf {
        self.root.join(crate::pki::plan::PKI_DIR)
    }

    fn kubeconfigs(&self) -> PathBuf {
        self.root.join(crate::pki::plan::KUBECONFIG_DIR)
    }

    fn save(&self, state: &JoinState) {
        if let Err(e) = state.write(self.run_dir) {
            eprintln!("cluster join: writing {}: {e}", join_state::FILE);
        }
    }

    /// Before the PKI step: discovery, and a server's shared certificates. Returns once they are
    /// done (or were done on an earlier boot).
    pub async fn before_pki(&self) -> anyhow::Result<()> {
        let role = self.config.plinth.cluster.role;
        if self.joined_before() {
            println!(
                "cluster join: {} joined {} on an earlier boot; using what it kept",
                self.name,
                self.endpoint()
            );
            return Ok(());
        }
        let token = BootstrapToken::read(self.token_file).context("the bootstrap token")?;
        let trusted = self.discover(&token).await?;
        match role {
            Role::Server => self.control_plane_certificates(&trusted, &token).await?,
            Role::Agent => {
                if self.config.plinth.cluster.etcd_member() {
                    self.control_plane_certificates(&trusted, &token).await?;
                }
                self.agent_files(&trusted, &token)?;
            }
            Role::Init => {}
        }
        Ok(())
    }

    /// Whether the node holds what an earlier join gave it: an agent its kubelet's kubeconfig,
    /// an etcd member (a server, or an agent that runs one) its member's data.
    fn joined_before(&self) -> bool {
        let cluster = &self.config.plinth.cluster;
        let member = || {
            crate::etcd::run::has_data(Path::new(&cluster.etcd.data_dir))
                && self.pki().join("etcd/ca.crt").exists()
                && self.state.join(INITIAL_CLUSTER).exists()
        };
        match cluster.role {
            Role::Agent => {
                self.kubeconfigs().join("kubelet.conf").exists()
                    && (!cluster.etcd_member() || member())
            }
            Role::Server => self.pki().join("ca.crt").exists() && member(),
            Role::Init => true,
        }
    }

    /// Discovery, retried until it passes.
    async fn discover(&self, token: &BootstrapToken) -> anyhow::Result<Trusted> {
        let pin = match &self.config.plinth.cluster.ca_cert_hash {
            Some(text) => Some(CaPin::parse(text).context("plinth.cluster.ca_cert_hash")?),
            None => None,
        };
        let trusted = self
            .until_done(join_state::DISCOVERY, || async {
                let deadline = tokio::time::Instant::now() + TRY_PATIENCE;
                discovery::discover(self.endpoint(), token, pin.as_ref(), deadline)
                    .await
                    .map_err(|e| (e.kind(), e.to_string()))
            })
            .await;
        match trusted.unpinned_warning() {
            Some(warning) => println!("cluster join: {warning}"),
            None => println!(
                "cluster join: discovery of {}: cluster-info signed with the token, the CA pinned ({})",
                self.endpoint(),
                trusted.ca_pin
            ),
        }
        Ok(trusted)
    }

    /// Runs `attempt` until it succeeds, as step `step` of the join: each failure (its kind and
    /// reason) kept in `join.json`, said on the console when it is new, and followed by a pause
    /// that grows with the tries ([`join_state::backoff`]).
    async fn until_done<T, F, Fut>(&self, step: &str, mut attempt: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, (&'static str, String)>>,
    {
        let mut state = JoinState::at(step, self.endpoint());
        self.save(&state);
        loop {
            match attempt().await {
                Ok(value) => return value,
                Err((kind, reason)) => {
                    if let Some(line) = state.failed(kind, &reason) {
                        println!("{line}");
                    }
                    self.save(&state);
                    tokio::time::sleep(join_state::backoff(state.tries)).await;
                }
            }
        }
    }

    /// A server's copy of the cluster's CAs and service-account keys, or an etcd-member agent's
    /// copy of the etcd CA alone, retried until it passes.
    async fn control_plane_certificates(
        &self,
        trusted: &Trusted,
        token: &BootstrapToken,
    ) -> anyhow::Result<()> {
        let file = self
            .certificate_key_file
            .context("joining etcd needs plinth.cluster.certificate_key")?;
        let key = CertificateKey::read(file).context("the certificate key")?;
        let server = self.config.plinth.cluster.role == Role::Server;
        let files = self
            .until_done(join_state::CERTIFICATES, || async {
                certs::fetch_control_plane_certs(trusted, self.endpoint(), token, &key)
                    .await
                    .and_then(|files| {
                        if server {
                            Ok(files)
                        } else {
                            certs::etcd_ca(files)
                        }
                    })
                    .map_err(|e| (e.kind(), e.to_string()))
            })
            .await;
        let written = certs::write_shared_pki(&self.pki(), &files)
            .context("writing the cluster's certificates")?;
        println!(
            "cluster join: {} from kubeadm-certs: {} written, {} kept",
            if server {
                "the cluster's CAs and service-account keys"
            } else {
                "the etcd CA"
            },
            written.written.len(),
            written.kept.len()
        );
        Ok(())
    }

    /// An agent's CA (the kubelet's client CA) and bootstrap kubeconfig.
    fn agent_files(&self, trusted: &Trusted, token: &BootstrapToken) -> anyhow::Result<()> {
        let ca = self.pki().join("ca.crt");
        crate::pki::store::make_root(&self.pki()).context("making the PKI directory")?;
        match std::fs::read(&ca) {
            Ok(old) if old != trusted.ca_pem => anyhow::bail!(
                "{} holds another cluster's CA: this node's state belongs to another cluster; wipe the state partition (or remove {}) to join {}",
                ca.display(),
                self.root.display(),
                self.endpoint()
            ),
            _ => crate::pki::store::replace(&ca, &trusted.ca_pem, 0o644)
                .with_context(|| format!("writing {}", ca.display()))?,
        }
        std::fs::create_dir_all(self.kubeconfigs())?;
        crate::join::kubeconfig::write_bootstrap_kubeconfig(
            &self.kubeconfigs().join(BOOTSTRAP_KUBECONFIG),
            &trusted.server,
            &trusted.ca_pem,
            token,
        )
        .context("writing the kubelet's bootstrap kubeconfig")?;
        Ok(())
    }

    /// After the PKI, on an etcd member (a server, an agent that runs one): its etcd member, added as a learner (retried until etcd takes
    /// it); the `--initial-cluster` it starts with, kept for later boots.
    pub async fn etcd_member(&self) -> anyhow::Result<EtcdStart> {
        let kept = self.state.join(INITIAL_CLUSTER);
        let cluster = &self.config.plinth.cluster;
        let data_dir = Path::new(&cluster.etcd.data_dir);
        if crate::etcd::run::has_data(data_dir)
            && let Ok(text) = std::fs::read_to_string(&kept)
        {
            return Ok(EtcdStart::Joining(text.trim().to_owned()));
        }
        let host = endpoint_host(self.endpoint());
        let options = crate::etcd::run::JoinOptions {
            endpoints: vec![format!("https://{host}:{}", cluster.etcd.client_port)],
            pki_dir: self.pki(),
            me: crate::etcd::members::Me {
                name: self.name.to_owned(),
                peer_url: node::peer_url(self.address, cluster.etcd.peer_port),
            },
            data_dir: data_dir.to_path_buf(),
            timeout: TRY_PATIENCE,
        };
        let outcome = self
            .until_done(join_state::ETCD_MEMBER, || async {
                crate::etcd::run::join(&options)
                    .await
                    .map_err(|e| ("etcd", format!("{e:#}")))
            })
            .await;
        crate::pki::store::replace(
            &kept,
            format!("{}\n", outcome.initial_cluster).as_bytes(),
            0o600,
        )
        .with_context(|| format!("writing {}", kept.display()))?;
        Ok(EtcdStart::Joining(outcome.initial_cluster))
    }

    /// Says the join is done.
    pub fn done(&self) {
        self.save(&JoinState::at(join_state::JOINED, self.endpoint()));
    }
}

/// The host of an endpoint as a URL writes it (IPv6 bracketed); the endpoint as given when it
/// is none (validation refuses such a config before it gets here).
pub fn endpoint_host(endpoint: &str) -> String {
    crate::join::discovery::endpoint_host_port(endpoint)
        .map_or_else(|_| endpoint.to_owned(), |(host, _)| host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_hosts() {
        for (endpoint, host) in [
            ("https://192.0.2.11:6443", "192.0.2.11"),
            ("https://192.0.2.11:6443/", "192.0.2.11"),
            ("192.0.2.11:6443", "192.0.2.11"),
            ("192.0.2.11", "192.0.2.11"),
            ("https://cp.lab.example:6443", "cp.lab.example"),
            ("https://[fd00::1]:6443", "[fd00::1]"),
            ("fd00::1", "[fd00::1]"),
        ] {
            assert_eq!(endpoint_host(endpoint), host, "{endpoint}");
        }
    }
}
