//! The probes of `plinth-agent cluster status`, each bounded in time and turning every failure
//! into the value `verdict` decides on, never an error: reading the config and `node.json`,
//! etcd's `/health` (plain HTTP on the metrics port) and member list (the v3 JSON gateway on the
//! client port, as `kube-etcd-healthcheck-client`), the apiserver's `/readyz` and the Node (as
//! admin.conf's `kubernetes-admin`).
//!
//! HTTP goes through kube-rs's client (rustls with ring) for etcd too, configured by
//! [`EtcdClient`] (`crate::etcd::client`, shared with `etcd join` and `etcd promote`): it already
//! does TLS with client certificates from files, so etcd needs no second HTTP stack and no
//! `etcdctl`. No
//! reason quotes a file's content: the kubeconfig and the PKI hold keys.

use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::core::v1::Node;
use kube::client::Body;
use kube::{Api, Client, Config};
use plinth_config::{Diagnostics, MachineConfig};

use super::report::NodeInfo;
use super::verdict::{Answer, NodeSeen, Seen};
use crate::etcd::client::ClientError;

/// The longest a probe may take: a cluster that does not answer is reported, not waited for.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Why a probe saw nothing to decide on; each says what was asked (a file, a URL).
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The file is not there.
    #[error("no {}", .0.display())]
    Missing(PathBuf),
    /// The machine config is not valid: the config crate's diagnostics, on one line.
    #[error("{}: {}", path.display(), diagnostics.to_string().trim())]
    Config {
        /// The config.
        path: PathBuf,
        /// What is wrong with it.
        diagnostics: Diagnostics,
    },
    /// The file is there but cannot be read.
    #[error("reading {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `node.json` is not what `prep` writes.
    #[error("{}: {source}", path.display())]
    NodeFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// The kubeconfig cannot be read, or gives no client configuration (with its causes).
    #[error("{0:#}")]
    Kubeconfig(anyhow::Error),
    /// No client of etcd can be made.
    #[error(transparent)]
    Etcd(#[from] ClientError),
    /// kube-rs could not make an HTTP client of the configuration.
    #[error("making the HTTP client: {0}")]
    Client(kube::Error),
    /// The request could not be made.
    #[error("{url}: {source}")]
    Request {
        /// What was asked.
        url: String,
        /// Why.
        source: http::Error,
    },
    /// Sending the request or reading the answer failed.
    #[error("{url}: {cause}")]
    Unreachable {
        /// What was asked.
        url: String,
        /// The innermost cause of kube-rs's error, as [`cause`] says it.
        cause: String,
    },
    /// No answer within [`PROBE_TIMEOUT`].
    #[error("{url}: no answer in {PROBE_TIMEOUT:?}")]
    Timeout {
        /// What was asked.
        url: String,
    },
}

/// The machine config, or why not.
pub fn read_config(path: &Path) -> Result<MachineConfig, ProbeError> {
    if !path.exists() {
        return Err(ProbeError::Missing(path.to_owned()));
    }
    plinth_config::load_path(path)
        .map(|parsed| parsed.config)
        .map_err(|diagnostics| ProbeError::Config {
            path: path.to_owned(),
            diagnostics,
        })
}

/// `node.json` as `prep` wrote it, or why not.
pub fn read_node_file(path: &Path) -> Result<NodeInfo, ProbeError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ProbeError::Missing(path.to_owned()));
        }
        Err(source) => {
            return Err(ProbeError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    serde_json::from_str(&text).map_err(|source| ProbeError::NodeFile {
        path: path.to_owned(),
        source,
    })
}

pub use crate::etcd::client::EtcdClient;

fn client_of(mut config: Config) -> Result<Client, ProbeError> {
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    config.read_timeout = Some(PROBE_TIMEOUT);
    Client::try_from(config).map_err(ProbeError::Client)
}

/// etcd's `GET http://127.0.0.1:<metrics_port>/health` (plain HTTP, as PID 1's probe).
pub async fn etcd_health(etcd: &EtcdClient, metrics_port: u16) -> Seen {
    let url = format!("http://127.0.0.1:{metrics_port}");
    let client = client_of(etcd.config(&url).await?)?;
    let request = http::Request::get("/health").body(Vec::new());
    send(&client, &format!("{url}/health"), request).await
}

/// etcd's `POST https://127.0.0.1:<client_port>/v3/cluster/member/list`.
pub async fn etcd_members(etcd: &EtcdClient, client_port: u16) -> Seen {
    let url = format!("https://127.0.0.1:{client_port}");
    let client = client_of(etcd.config(&url).await?)?;
    let request = http::Request::post("/v3/cluster/member/list")
        .header("content-type", "application/json")
        .body(b"{}".to_vec());
    send(&client, &format!("{url}/v3/cluster/member/list"), request).await
}

/// The admin client of `admin.conf` and the server it names, or why not.
pub async fn admin(kubeconfig: &Path) -> Result<(Client, String), ProbeError> {
    if !kubeconfig.exists() {
        return Err(ProbeError::Missing(kubeconfig.to_owned()));
    }
    let config = super::client::config(kubeconfig)
        .await
        .map_err(ProbeError::Kubeconfig)?;
    let server = config.cluster_url.to_string();
    let server = server.trim_end_matches('/').to_owned();
    Ok((client_of(config)?, server))
}

/// The apiserver's `/readyz?verbose` (its answer lists each check's state).
pub async fn readyz(client: &Client, server: &str) -> Seen {
    let request = http::Request::get("/readyz?verbose").body(Vec::new());
    send(client, &format!("{server}/readyz"), request).await
}

/// The Node `name`.
pub async fn node(client: &Client, server: &str, name: &str) -> NodeSeen {
    let api = Api::<Node>::all(client.clone());
    match tokio::time::timeout(PROBE_TIMEOUT, api.get_opt(name)).await {
        Ok(Ok(Some(node))) => NodeSeen::Found(Box::new(node)),
        Ok(Ok(None)) => NodeSeen::Absent(name.to_owned()),
        Ok(Err(kube::Error::Api(status))) => NodeSeen::Refused(status.code, status.message),
        Ok(Err(e)) => NodeSeen::Unreachable(format!("{server}: {}", cause(&e))),
        Err(_) => NodeSeen::Unreachable(format!("{server}: no answer in {PROBE_TIMEOUT:?}")),
    }
}

/// Sends `request`; the answer whatever its status, or why there was none (naming `url`).
/// Raw: kube-rs's own error mapping would read etcd's JSON errors as an empty Kubernetes Status.
async fn send(
    client: &Client,
    url: &str,
    request: Result<http::Request<Vec<u8>>, http::Error>,
) -> Seen {
    let request = request.map_err(|source| ProbeError::Request {
        url: url.to_owned(),
        source,
    })?;
    let exchange = async {
        let response = client.send(request.map(Body::from)).await?;
        let status = response.status().as_u16();
        let body = response.into_body().collect_bytes().await?;
        Ok::<_, kube::Error>(Answer {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    };
    match tokio::time::timeout(PROBE_TIMEOUT, exchange).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(e)) => Err(ProbeError::Unreachable {
            url: url.to_owned(),
            cause: cause(&e),
        }),
        Err(_) => Err(ProbeError::Timeout {
            url: url.to_owned(),
        }),
    }
}

/// What went wrong, said by the innermost cause (`tcp connect error: Connection refused (os error
/// 111)`, `invalid peer certificate: UnknownIssuer`) rather than by every layer above it.
pub(crate) fn cause(error: &dyn std::error::Error) -> String {
    let mut innermost = error;
    let mut above = None;
    while let Some(source) = innermost.source() {
        above = Some(innermost);
        innermost = source;
    }
    let inner = innermost.to_string();
    match above.map(ToString::to_string) {
        Some(above) if above.contains(&inner) => above,
        // A short cause ("Connection refused") reads better after the layer naming what was
        // tried ("tcp connect error").
        Some(above) if inner.len() < 40 => format!("{above}: {inner}"),
        _ => inner,
    }
}
