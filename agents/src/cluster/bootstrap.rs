//! `plinth-agent cluster bootstrap`: makes the cluster hold the objects of a kubeadm cluster
//! (`objects`) — the bootstrap token, cluster-info and its RBAC, the TLS-bootstrap RBAC, and with a
//! certificate key the encrypted control-plane certificates — then waits until
//! kube-controller-manager's bootstrapsigner has signed cluster-info with the token, checking the
//! signature as a joiner will (`jws`).
//!
//! Run by PID 1 once the apiserver is ready, with `super-admin.conf` (`system:masters`):
//! `admin.conf`'s group `kubeadm:cluster-admins` is only bound to `cluster-admin` by this very
//! step, as in kubeadm. Idempotent: each object is read first and written only when what Plinth
//! sets differs (`objects::Reconcile`), so a second run writes nothing. Transient API errors (the
//! apiserver unreachable or starting, conflicts) are retried with backoff until `timeout`;
//! others end the run at once.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{Api, DeleteParams, PostParams};
use kube::config::Kubeconfig;
use kube::{Client, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use super::client::{self, retry};
use super::objects::{self, Action, Reconcile};
use super::token::{BootstrapToken, CertificateKey};
use super::{certs, jws};

/// How long `bootstrap` keeps trying by default (the bootstrapsigner signs within seconds).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
/// How often cluster-info is read while waiting for the signature.
const SIGNATURE_POLL: Duration = Duration::from_millis(500);

/// What `bootstrap` is run with.
#[derive(Clone, Debug)]
pub struct BootstrapOptions {
    /// An admin kubeconfig (`super-admin.conf`); its current cluster's server and CA are what
    /// cluster-info publishes.
    pub kubeconfig: PathBuf,
    /// The file holding the bootstrap token `id.secret`.
    pub token_file: PathBuf,
    /// The file holding the certificate key; `kubeadm-certs` is uploaded only with one.
    pub certificate_key_file: Option<PathBuf>,
    /// The PKI directory (kubeadm's names: `ca.crt`, `etcd/ca.key`, `sa.pub`, …).
    pub pki_dir: PathBuf,
    /// The server URL cluster-info names instead of the kubeconfig's (a load-balanced endpoint).
    pub server: Option<String>,
    /// How long to keep retrying, the signature's wait included.
    pub timeout: Duration,
}

/// What was done to one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Done {
    Created,
    Kept,
    Replaced,
    Recreated,
}

impl Done {
    fn as_str(self) -> &'static str {
        match self {
            Done::Created => "created",
            Done::Kept => "unchanged",
            Done::Replaced => "updated",
            Done::Recreated => "recreated",
        }
    }
}

/// One line per object: `(kind namespace/name, what was done)`.
pub type Report = Vec<(String, Done)>;

/// The server URL and the CA (PEM) of a kubeconfig's current context.
pub fn cluster_of(kubeconfig: &Kubeconfig, dir: &Path) -> anyhow::Result<(String, Vec<u8>)> {
    let context_name = kubeconfig
        .current_context
        .as_deref()
        .filter(|c| !c.is_empty())
        .context("the kubeconfig has no current-context")?;
    let context = kubeconfig
        .contexts
        .iter()
        .find(|c| c.name == context_name)
        .and_then(|c| c.context.as_ref())
        .with_context(|| format!("the kubeconfig has no context {context_name:?}"))?;
    let cluster = kubeconfig
        .clusters
        .iter()
        .find(|c| c.name == context.cluster)
        .and_then(|c| c.cluster.as_ref())
        .with_context(|| format!("the kubeconfig has no cluster {:?}", context.cluster))?;
    let server = cluster
        .server
        .clone()
        .with_context(|| format!("cluster {:?} has no server", context.cluster))?;
    let ca = match (
        &cluster.certificate_authority_data,
        &cluster.certificate_authority,
    ) {
        (Some(data), _) => STANDARD
            .decode(data.trim())
            .context("certificate-authority-data is not base64")?,
        (None, Some(file)) => {
            let path = dir.join(file);
            std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?
        }
        (None, None) => bail!("cluster {:?} names no CA", context.cluster),
    };
    Ok((server, ca))
}

/// Runs `bootstrap` to the end: every object right and cluster-info signed.
pub fn run(options: &BootstrapOptions) -> anyhow::Result<Report> {
    client::runtime()?.block_on(bootstrap(options))
}

async fn bootstrap(options: &BootstrapOptions) -> anyhow::Result<Report> {
    let deadline = Instant::now() + options.timeout;
    // Everything local first: a wrong file is reported before the cluster is touched.
    let token = BootstrapToken::read(&options.token_file)?;
    let certificate_key = match &options.certificate_key_file {
        Some(path) => Some(CertificateKey::read(path)?),
        None => None,
    };
    let file = Kubeconfig::read_from(&options.kubeconfig)
        .with_context(|| format!("reading {}", options.kubeconfig.display()))?;
    let dir = options.kubeconfig.parent().unwrap_or(Path::new("."));
    let (server, ca) = cluster_of(&file, dir)
        .with_context(|| format!("reading {}", options.kubeconfig.display()))?;
    let server = options.server.clone().unwrap_or(server);
    let certs = match &certificate_key {
        Some(key) => {
            let plain = certs::read_files(&options.pki_dir)?;
            let encrypted = certs::encrypt_all(&plain, key)?;
            Some((plain, encrypted, key))
        }
        None => None,
    };
    let kubeconfig = objects::cluster_info_kubeconfig(&server, &ca);

    let client = client::client(&options.kubeconfig).await?;
    let mut report = Report::new();
    let system = |c: &Client| (c.clone(), objects::KUBE_SYSTEM);
    let public = |c: &Client| (c.clone(), objects::KUBE_PUBLIC);

    note(
        &mut report,
        namespaced(system(&client), &objects::token_secret(&token), deadline).await?,
    );
    note(
        &mut report,
        namespaced(
            public(&client),
            &objects::cluster_info(&kubeconfig),
            deadline,
        )
        .await?,
    );
    let (role, binding) = objects::cluster_info_rbac();
    note(
        &mut report,
        namespaced(public(&client), &role, deadline).await?,
    );
    note(
        &mut report,
        namespaced(public(&client), &binding, deadline).await?,
    );
    let (cluster_roles, bindings) = objects::tls_bootstrap_rbac();
    for role in &cluster_roles {
        let api = Api::<ClusterRole>::all(client.clone());
        note(&mut report, ensure(&api, role, deadline).await?);
    }
    for binding in &bindings {
        let api = Api::<ClusterRoleBinding>::all(client.clone());
        note(&mut report, ensure(&api, binding, deadline).await?);
    }
    if let Some((plain, encrypted, key)) = &certs {
        let (role, binding) = objects::kubeadm_certs_rbac();
        note(
            &mut report,
            namespaced(system(&client), &role, deadline).await?,
        );
        note(
            &mut report,
            namespaced(system(&client), &binding, deadline).await?,
        );
        let api = Api::<Secret>::namespaced(client.clone(), objects::KUBE_SYSTEM);
        note(
            &mut report,
            kubeadm_certs(&api, plain, encrypted, key, deadline).await?,
        );
    }

    let api = Api::<ConfigMap>::namespaced(client, objects::KUBE_PUBLIC);
    let took = wait_for_signature(&api, &token, &kubeconfig, deadline).await?;
    eprintln!(
        "{}/{}: {} verifies ({:.1} s)",
        objects::KUBE_PUBLIC,
        objects::CLUSTER_INFO,
        token.jws_key(),
        took.as_secs_f64()
    );
    Ok(report)
}

/// Says what was done to an object, and keeps it for the report.
fn note(report: &mut Report, (object, done): (String, Done)) {
    eprintln!("{object}: {}", done.as_str());
    report.push((object, done));
}

/// `ensure` in `namespace`.
async fn namespaced<K>(
    (client, namespace): (Client, &str),
    wanted: &K,
    deadline: Instant,
) -> anyhow::Result<(String, Done)>
where
    K: Reconcile + Resource<Scope = NamespaceResourceScope> + DeserializeOwned + Serialize + Debug,
    K::DynamicType: Default,
{
    ensure(&Api::<K>::namespaced(client, namespace), wanted, deadline).await
}

fn describe<K: Resource>(object: &K) -> String
where
    K::DynamicType: Default,
{
    let kind = K::kind(&K::DynamicType::default()).into_owned();
    let meta = object.meta();
    match &meta.namespace {
        Some(ns) => format!("{kind} {ns}/{}", meta.name.as_deref().unwrap_or_default()),
        None => format!("{kind} {}", meta.name.as_deref().unwrap_or_default()),
    }
}

/// Makes the cluster hold `wanted` (read, compare, write only what differs), retrying races.
async fn ensure<K>(api: &Api<K>, wanted: &K, deadline: Instant) -> anyhow::Result<(String, Done)>
where
    K: Reconcile + Resource + DeserializeOwned + Serialize + Debug + Clone,
    K::DynamicType: Default,
{
    let what = describe(wanted);
    let done = retry(&what, deadline, move || async move {
        let name = wanted.meta().name.clone().unwrap_or_default();
        let found = api.get_opt(&name).await?;
        write(api, &name, objects::plan(wanted, found.as_ref())).await
    })
    .await?;
    Ok((what, done))
}

/// Carries out one action.
async fn write<K>(api: &Api<K>, name: &str, action: Action<K>) -> Result<Done, kube::Error>
where
    K: Resource + DeserializeOwned + Serialize + Debug + Clone,
{
    let post = PostParams::default();
    match action {
        Action::Keep => Ok(Done::Kept),
        Action::Create(k) => api.create(&post, &k).await.map(|_| Done::Created),
        Action::Replace(k) => api.replace(name, &post, &k).await.map(|_| Done::Replaced),
        Action::Recreate(k) => {
            match api.delete(name, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(e) if client::status(&e) == Some(404) => {}
                Err(e) => return Err(e),
            }
            api.create(&post, &k).await.map(|_| Done::Recreated)
        }
    }
}

async fn kubeadm_certs(
    api: &Api<Secret>,
    plain: &BTreeMap<String, Vec<u8>>,
    encrypted: &BTreeMap<String, Vec<u8>>,
    key: &CertificateKey,
    deadline: Instant,
) -> anyhow::Result<(String, Done)> {
    let what = format!("Secret {}/{}", objects::KUBE_SYSTEM, certs::SECRET);
    let done = retry(&what, deadline, move || async move {
        let found = api.get_opt(certs::SECRET).await?;
        let action = objects::kubeadm_certs_plan(found.as_ref(), plain, encrypted, key);
        write(api, certs::SECRET, action).await
    })
    .await?;
    Ok((what, done))
}

/// Waits until cluster-info carries the bootstrapsigner's `jws-kubeconfig-<id>` and it verifies
/// for `kubeconfig`; how long that took.
async fn wait_for_signature(
    api: &Api<ConfigMap>,
    token: &BootstrapToken,
    kubeconfig: &str,
    deadline: Instant,
) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let key = token.jws_key();
    loop {
        let map = retry("reading cluster-info", deadline, || {
            api.get(objects::CLUSTER_INFO)
        })
        .await?;
        let data = map.data.unwrap_or_default();
        let why = match data.get(&key) {
            _ if data.get(objects::KUBECONFIG_KEY).map(String::as_str) != Some(kubeconfig) => {
                "its kubeconfig is not the one written (changed meanwhile?)".to_owned()
            }
            Some(signature) if jws::verify(signature, kubeconfig, token.id(), token.secret()) => {
                return Ok(start.elapsed());
            }
            Some(_) => format!("{key} does not verify with the token (not signed again yet?)"),
            None => format!(
                "no {key} yet: is kube-controller-manager running with the bootstrapsigner \
                 controller (--controllers=*,bootstrapsigner,tokencleaner)?"
            ),
        };
        if Instant::now() + SIGNATURE_POLL > deadline {
            bail!(
                "{}/{}: not signed after {:.0} s: {why}",
                objects::KUBE_PUBLIC,
                objects::CLUSTER_INFO,
                start.elapsed().as_secs_f64()
            );
        }
        tokio::time::sleep(SIGNATURE_POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUBECONFIG: &str = "apiVersion: v1
kind: Config
clusters:
- name: kubernetes
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: UEVN
- name: other
  cluster:
    server: https://10.0.0.1:6443
    certificate-authority: ca.pem
contexts:
- name: admin@kubernetes
  context:
    cluster: kubernetes
    user: admin
- name: other
  context:
    cluster: other
    user: admin
current-context: admin@kubernetes
users:
- name: admin
  user: {}
";

    #[test]
    fn the_current_clusters_server_and_ca() {
        let mut file = Kubeconfig::from_yaml(KUBECONFIG).unwrap();
        let (server, ca) = cluster_of(&file, Path::new("/nonexistent")).unwrap();
        assert_eq!(server, "https://127.0.0.1:6443");
        assert_eq!(ca, b"PEM");
        file.current_context = Some("other".into());
        let err = cluster_of(&file, Path::new("/nonexistent")).unwrap_err();
        assert!(format!("{err:#}").contains("ca.pem"), "{err:#}");
        file.current_context = Some("missing".into());
        assert!(cluster_of(&file, Path::new("/")).is_err());
        file.current_context = None;
        assert!(cluster_of(&file, Path::new("/")).is_err());
    }
}
