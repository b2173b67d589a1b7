//! etcd's v3 JSON gateway (grpc-gateway) over HTTPS with a client certificate from the node's
//! PKI: the one place a TLS client of etcd is made ([`EtcdClient`], also `cluster status`'s),
//! and the membership calls of `etcd join` and `etcd promote` ([`Gateway`]) against a list of
//! endpoints, each tried until one answers.
//!
//! HTTP goes through kube-rs's client (rustls with ring), which already does TLS with client
//! certificates from files: no second HTTP stack, no `etcdctl`. etcd's refusals come back as
//! JSON (`{"error": …, "code": <gRPC code>, "message": …}`) with an HTTP status mapped from the
//! gRPC code; [`CallError`] keeps etcd's message as it is. No key material is read here: the
//! files are named to rustls, never printed.

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use kube::client::Body;
use kube::config::{
    AuthInfo, Cluster, Context, KubeConfigOptions, Kubeconfig, KubeconfigError, NamedAuthInfo,
    NamedCluster, NamedContext,
};
use kube::{Client, Config};
use serde_json::{Value, json};

use super::members::{self, Member};
use crate::cluster::checks::cause;

/// etcd's answer (HTTP 503, gRPC code 14) to a learner asked anything but its status and
/// serializable reads: a member list and membership changes must go to a voting member.
const LEARNER_REFUSAL: &str = "rpc not supported for learner";

/// How long a TCP and TLS connection to one endpoint may take before the next is tried.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one call may take: etcd itself gives up on a membership change after about 7 s (its
/// request timeout, longer with a slow disk or under emulation).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(20);

/// Why no client of etcd can be made: this node's side, before anything is sent.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The CA, the certificate or the key is not there.
    #[error("no {}", .0.display())]
    Missing(PathBuf),
    /// kube-rs refused the configuration naming the files.
    #[error("etcd's client configuration: {0}")]
    Config(KubeconfigError),
    /// kube-rs could not make an HTTP client of the configuration.
    #[error("making the HTTP client: {0}")]
    Http(kube::Error),
}

/// Where etcd's CA and a client certificate of etcd's CA are, under the PKI directory.
#[derive(Clone, Debug)]
pub struct EtcdClient {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl EtcdClient {
    /// kubeadm's `etcd/ca.crt` and `etcd/healthcheck-client.{crt,key}`: the identity made for
    /// probing etcd (`cluster status`).
    pub fn under(pki: &Path) -> Self {
        let etcd = pki.join("etcd");
        Self {
            ca: etcd.join("ca.crt"),
            cert: etcd.join("healthcheck-client.crt"),
            key: etcd.join("healthcheck-client.key"),
        }
    }

    /// kubeadm's `apiserver-etcd-client.{crt,key}` (with `etcd/ca.crt`): the identity
    /// membership changes are made with, as `kubeadm join` does. etcd runs with
    /// `--client-cert-auth` and no auth (RBAC) enabled, so any certificate of its CA may change
    /// membership — the health-check client's too; this one is chosen because it is the
    /// apiserver's full-access identity, and stays the right one if etcd's auth is ever turned
    /// on (the health-check client is meant for reading `/health`).
    pub fn member_admin(pki: &Path) -> Self {
        Self {
            ca: pki.join("etcd").join("ca.crt"),
            cert: pki.join("apiserver-etcd-client.crt"),
            key: pki.join("apiserver-etcd-client.key"),
        }
    }

    /// kube-rs's configuration of a client of `url` with this identity (from an in-memory
    /// kubeconfig naming the files), with no timeouts set and without kube-rs's own retries of
    /// 503s: etcd answers 503 (gRPC Unavailable) to what a learner does not serve and while it
    /// has no leader, which its callers want to see at once. Or why not (a file missing).
    pub async fn config(&self, url: &str) -> Result<Config, ClientError> {
        for file in [&self.ca, &self.cert, &self.key] {
            if !file.exists() {
                return Err(ClientError::Missing(file.clone()));
            }
        }
        let path = |p: &Path| Some(p.to_string_lossy().into_owned());
        let kubeconfig = Kubeconfig {
            clusters: vec![NamedCluster {
                name: "etcd".into(),
                cluster: Some(Cluster {
                    server: Some(url.to_owned()),
                    certificate_authority: path(&self.ca),
                    ..Cluster::default()
                }),
                ..NamedCluster::default()
            }],
            auth_infos: vec![NamedAuthInfo {
                name: "etcd-client".into(),
                auth_info: Some(AuthInfo {
                    client_certificate: path(&self.cert),
                    client_key: path(&self.key),
                    ..AuthInfo::default()
                }),
                ..NamedAuthInfo::default()
            }],
            contexts: vec![NamedContext {
                name: "etcd".into(),
                context: Some(Context {
                    cluster: "etcd".into(),
                    user: Some("etcd-client".into()),
                    ..Context::default()
                }),
                ..NamedContext::default()
            }],
            current_context: Some("etcd".into()),
            ..Kubeconfig::default()
        };
        let mut config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .map_err(ClientError::Config)?;
        config.default_retry = false;
        Ok(config)
    }
}

/// Why a gateway call failed.
#[derive(Debug)]
pub enum CallError {
    /// No endpoint answered: each one's reason, joined.
    Unreachable(String),
    /// No request could be made: this node's client is wrong (a PKI file missing).
    Local(ClientError),
    /// etcd answered with an error: the HTTP status, the gRPC code and etcd's message.
    Refused {
        status: u16,
        code: Option<i64>,
        message: String,
    },
}

impl CallError {
    /// etcd's message (or why nothing answered).
    pub fn message(&self) -> Cow<'_, str> {
        match self {
            Self::Unreachable(why) => why.into(),
            Self::Local(why) => why.to_string().into(),
            Self::Refused { message, .. } => message.into(),
        }
    }

    /// Whether trying again later may succeed ([`members::retryable`]; no answer always may).
    pub fn retryable(&self) -> bool {
        match self {
            Self::Unreachable(_) => true,
            Self::Local(_) => false,
            Self::Refused { message, .. } => members::retryable(message),
        }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreachable(why) => write!(f, "no etcd endpoint answered: {why}"),
            Self::Local(why) => write!(f, "no etcd client: {why}"),
            Self::Refused {
                status,
                code: Some(code),
                message,
            } => write!(f, "{message} (HTTP {status}, gRPC code {code})"),
            Self::Refused {
                status,
                code: None,
                message,
            } => write!(f, "{message} (HTTP {status})"),
        }
    }
}

impl std::error::Error for CallError {}

/// What `member add` answered: the new member (unstarted: no name) and the members after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Added {
    pub member: Member,
    pub members: Vec<Member>,
}

/// The gateway of a cluster, through whichever of its endpoints answers first, in order.
pub struct Gateway {
    identity: EtcdClient,
    endpoints: Vec<String>,
    clients: Vec<(String, Client)>,
}

impl fmt::Debug for Gateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gateway")
            .field("identity", &self.identity)
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// A gateway asking `endpoints` (`https://192.0.2.11:2379`) in order, as `identity`.
    pub fn new(identity: EtcdClient, endpoints: Vec<String>) -> Self {
        let mut gateway = Self {
            identity,
            endpoints: Vec::new(),
            clients: Vec::new(),
        };
        gateway.add_endpoints(endpoints);
        gateway
    }

    /// The endpoints, in the order they are tried.
    pub fn endpoints(&self) -> &[String] {
        &self.endpoints
    }

    /// Adds endpoints not there yet, after the others (without a trailing `/`).
    pub fn add_endpoints(&mut self, endpoints: impl IntoIterator<Item = String>) {
        for endpoint in endpoints {
            let endpoint = endpoint.trim_end_matches('/').to_owned();
            if !endpoint.is_empty() && !self.endpoints.contains(&endpoint) {
                self.endpoints.push(endpoint);
            }
        }
    }

    /// `POST /v3/cluster/member/list`; the members' client URLs become fallback endpoints.
    pub async fn member_list(&mut self) -> Result<Vec<Member>, CallError> {
        let answer = self.call("/v3/cluster/member/list", json!({})).await?;
        let members = members_of(&answer)?;
        self.learn(&members);
        Ok(members)
    }

    /// `POST /v3/cluster/member/add` of a member advertising `peer_urls`, as a learner or not.
    pub async fn member_add(
        &mut self,
        peer_urls: &[String],
        learner: bool,
    ) -> Result<Added, CallError> {
        let body = json!({"peerURLs": peer_urls, "isLearner": learner});
        let answer = self.call("/v3/cluster/member/add", body).await?;
        let member = members::parse_member(&answer["member"]).ok_or_else(|| not_json(&answer))?;
        let members = members_of(&answer)?;
        self.learn(&members);
        Ok(Added { member, members })
    }

    /// `POST /v3/cluster/member/remove` of member `id`.
    pub async fn member_remove(&mut self, id: u64) -> Result<(), CallError> {
        let body = json!({"ID": id.to_string()});
        self.call("/v3/cluster/member/remove", body).await.map(drop)
    }

    /// `POST /v3/cluster/member/promote` of the learner `id`.
    pub async fn member_promote(&mut self, id: u64) -> Result<(), CallError> {
        let body = json!({"ID": id.to_string()});
        self.call("/v3/cluster/member/promote", body)
            .await
            .map(drop)
    }

    /// `POST /v3/kv/put` of `key` = `value` (the gateway wants both in base64).
    pub async fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), CallError> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let body = json!({"key": b64.encode(key), "value": b64.encode(value)});
        self.call("/v3/kv/put", body).await.map(drop)
    }

    fn learn(&mut self, members: &[Member]) {
        let urls: Vec<String> = members
            .iter()
            .flat_map(|m| m.client_urls.iter().cloned())
            .collect();
        self.add_endpoints(urls);
    }

    /// POSTs `body` to `path` of each endpoint in turn until one answers: its JSON when 2xx,
    /// etcd's error otherwise (not asking the others: etcd's answer is the cluster's).
    async fn call(&mut self, path: &str, body: Value) -> Result<Value, CallError> {
        let mut reasons = Vec::new();
        let mut learners = 0;
        for endpoint in self.endpoints.clone() {
            let client = self.client(&endpoint).await.map_err(CallError::Local)?;
            match send(&client, path, &body).await.map(|(s, t)| answer(s, &t)) {
                // A learner serves no membership change (nor writes): ask a voting member.
                Ok(Err(refused)) if refused.message().contains(LEARNER_REFUSAL) => {
                    learners += 1;
                    reasons.push(format!("{endpoint}: {}", refused.message()));
                }
                Ok(answer) => return answer,
                Err(why) => reasons.push(format!("{endpoint}: {why}")),
            }
        }
        if reasons.is_empty() {
            reasons.push("no endpoint given".into());
        }
        if learners > 0 && learners == reasons.len() {
            // Waiting would not help: some voting member's endpoint must be given.
            return Err(CallError::Refused {
                status: 503,
                code: Some(14),
                message: format!(
                    "only learners answered ({}): a learner serves no member list and no \
                     membership change; give a voting member's client URL too",
                    self.endpoints.join(", ")
                ),
            });
        }
        Err(CallError::Unreachable(reasons.join("; ")))
    }

    async fn client(&mut self, endpoint: &str) -> Result<Client, ClientError> {
        if let Some((_, client)) = self.clients.iter().find(|(e, _)| e == endpoint) {
            return Ok(client.clone());
        }
        let mut config = self.identity.config(endpoint).await?;
        config.connect_timeout = Some(CONNECT_TIMEOUT);
        config.read_timeout = Some(CALL_TIMEOUT);
        config.write_timeout = Some(CALL_TIMEOUT);
        let client = Client::try_from(config).map_err(ClientError::Http)?;
        self.clients.push((endpoint.to_owned(), client.clone()));
        Ok(client)
    }
}

/// Why one endpoint gave no answer.
#[derive(Debug, thiserror::Error)]
enum ExchangeError {
    /// The request could not be made.
    #[error("{0}")]
    Request(http::Error),
    /// Sending it or reading the answer failed (said by the innermost cause, [`cause`]).
    #[error("{}", cause(.0))]
    Failed(kube::Error),
    /// No answer within [`CALL_TIMEOUT`].
    #[error("no answer in {} s", CALL_TIMEOUT.as_secs())]
    Timeout,
}

/// One POST; the status and body, or why there was no answer.
async fn send(client: &Client, path: &str, body: &Value) -> Result<(u16, String), ExchangeError> {
    let request = http::Request::post(path)
        .header("content-type", "application/json")
        .body(body.to_string().into_bytes())
        .map_err(ExchangeError::Request)?;
    let exchange = async {
        let response = client.send(request.map(Body::from)).await?;
        let status = response.status().as_u16();
        let body = response.into_body().collect_bytes().await?;
        Ok::<_, kube::Error>((status, String::from_utf8_lossy(&body).into_owned()))
    };
    match tokio::time::timeout(CALL_TIMEOUT, exchange).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(e)) => Err(ExchangeError::Failed(e)),
        Err(_) => Err(ExchangeError::Timeout),
    }
}

/// A gateway answer: its JSON when 2xx, etcd's refusal otherwise.
fn answer(status: u16, text: &str) -> Result<Value, CallError> {
    let value: Option<Value> = serde_json::from_str(text).ok();
    if (200..300).contains(&status) {
        return value.ok_or_else(|| CallError::Refused {
            status,
            code: None,
            message: format!("not JSON: {}", text.trim()),
        });
    }
    let value = value.unwrap_or_default();
    let message = value["message"]
        .as_str()
        .or_else(|| value["error"].as_str())
        .map_or_else(|| text.trim().to_owned(), str::to_owned);
    Err(CallError::Refused {
        status,
        code: value["code"].as_i64(),
        message,
    })
}

fn members_of(answer: &Value) -> Result<Vec<Member>, CallError> {
    members::parse_members(answer).ok_or_else(|| not_json(answer))
}

fn not_json(answer: &Value) -> CallError {
    CallError::Refused {
        status: 200,
        code: None,
        message: format!("not a member list: {answer}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etcds_refusals_keep_its_message_and_code() {
        let refused = answer(
            500,
            r#"{"error":"etcdserver: too many learner members in cluster","code":9,
                "message":"etcdserver: too many learner members in cluster"}"#,
        )
        .unwrap_err();
        assert_eq!(
            refused.to_string(),
            "etcdserver: too many learner members in cluster (HTTP 500, gRPC code 9)"
        );
        assert!(refused.retryable());
        let not_found = answer(404, r#"{"error":"etcdserver: member not found","code":5}"#);
        let not_found = not_found.unwrap_err();
        assert_eq!(not_found.message(), "etcdserver: member not found");
        assert!(!not_found.retryable());
        // etcd 3.5.16's gateway writes no "error", only "code" and "message".
        let learner = answer(
            503,
            r#"{"code":14, "message":"etcdserver: rpc not supported for learner"}"#,
        )
        .unwrap_err();
        assert!(
            matches!(
                &learner,
                CallError::Refused {
                    status: 503,
                    code: Some(14),
                    message,
                } if message == "etcdserver: rpc not supported for learner"
            ),
            "{learner:?}"
        );
        let plain = answer(503, "upstream gone\n").unwrap_err();
        assert_eq!(plain.to_string(), "upstream gone (HTTP 503)");
        assert!(answer(200, "{}").is_ok());
        assert!(answer(200, "<html>").is_err());
        assert!(CallError::Unreachable("x".into()).retryable());
        assert!(!CallError::Local(ClientError::Missing("ca.crt".into())).retryable());
    }

    #[test]
    fn endpoints_are_kept_in_order_without_repeats() {
        let pki = Path::new("/nonexistent");
        let mut gateway = Gateway::new(
            EtcdClient::member_admin(pki),
            vec!["https://192.0.2.11:2379/".into(), "".into()],
        );
        gateway.learn(&[Member {
            id: 1,
            name: "node1".into(),
            peer_urls: vec![],
            client_urls: vec![
                "https://192.0.2.11:2379".into(),
                "https://[fd00::11]:2379".into(),
            ],
            is_learner: false,
        }]);
        assert_eq!(
            gateway.endpoints(),
            ["https://192.0.2.11:2379", "https://[fd00::11]:2379"]
        );
    }

    #[test]
    fn missing_files_are_named() {
        let rt = crate::cluster::client::runtime().unwrap();
        let mut gateway = Gateway::new(
            EtcdClient::member_admin(Path::new("/nonexistent")),
            vec!["https://127.0.0.1:1".into()],
        );
        let err = rt.block_on(gateway.member_list()).unwrap_err();
        assert!(
            matches!(&err, CallError::Local(ClientError::Missing(p)) if p == Path::new("/nonexistent/etcd/ca.crt")),
            "{err:?}"
        );
        assert_eq!(err.message(), "no /nonexistent/etcd/ca.crt");
        assert_eq!(
            err.to_string(),
            "no etcd client: no /nonexistent/etcd/ca.crt"
        );
        assert!(!err.retryable());
    }
}
