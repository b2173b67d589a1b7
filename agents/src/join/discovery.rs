//! kubeadm's token discovery from the joiner's side (kubeadm `discovery/token`): read
//! `kube-public/cluster-info` anonymously and without TLS verification, wait for the
//! bootstrapsigner's `jws-kubeconfig-<token id>`, check that signature with the token secret
//! ([`jws`]), take the one CA certificate the signed kubeconfig names, check it against the CA pin
//! when one is given ([`pin`]), then read cluster-info again over TLS trusting only that CA and
//! require the same kubeconfig text.
//!
//! [`verify`] is the pure decision on one cluster-info's data; [`discover`] does the requests
//! (kube-rs over rustls, raw GETs so that every status is seen) and the waiting, until the
//! caller's deadline. [`DiscoveryError`]'s messages are one line each, say what to check, and
//! never hold the token secret; [`DiscoveryError::kind`] names the failure for status reports.
//!
//! [`jws`]: crate::cluster::jws
//! [`pin`]: super::pin

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::client::Body;
use kube::config::Kubeconfig;
use kube::{Client, Config};
use tokio::time::Instant;
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use super::pin::CaPin;
use crate::cluster::checks::cause;
use crate::cluster::client::{MAX_BACKOFF, MIN_BACKOFF};
use crate::cluster::jws;
use crate::cluster::token::BootstrapToken;

/// The apiserver's port when the endpoint names none (kubeadm's).
pub const DEFAULT_PORT: u16 = 6443;
/// Where cluster-info is read.
pub const CLUSTER_INFO_PATH: &str = "/api/v1/namespaces/kube-public/configmaps/cluster-info";
/// cluster-info's key holding the kubeconfig.
const KUBECONFIG_KEY: &str = "kubeconfig";
/// The longest one request may take, connection included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why discovery failed. Messages are one line, name the endpoint or token id (public) and never
/// the token secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    #[error(
        "{0:?} is not an apiserver endpoint: expected host, host:port or https://host:port \
         (an IPv6 address in brackets)"
    )]
    Endpoint(String),
    #[error("{0}: check the address and port, and that the apiserver runs and is reachable")]
    Unreachable(String),
    #[error(
        "{endpoint} refused anonymous access to cluster-info ({status}): the apiserver needs \
         anonymous authentication and the Role kubeadm:bootstrap-signer-clusterinfo"
    )]
    Forbidden { endpoint: String, status: u16 },
    #[error(
        "{endpoint} has no kube-public/cluster-info: the cluster's first control plane has not \
         finished `kubeadm init` (or Plinth's cluster bootstrap), or this is not a kubeadm cluster"
    )]
    NoClusterInfo { endpoint: String },
    #[error("{endpoint} answered {status} to every try: the apiserver is not healthy yet")]
    ServerError { endpoint: String, status: u16 },
    #[error(
        "the cluster has not signed cluster-info for token id {id}: the token is unknown to the \
         cluster, has expired, or its signer (kube-controller-manager's bootstrapsigner) is not \
         running yet"
    )]
    NoSignature { id: String },
    #[error(
        "cluster-info's signature for token id {id} does not verify: the token's secret is wrong"
    )]
    BadSignature { id: String },
    #[error(
        "the cluster CA's pin is {found}, not the {expected} given: check the pin (`kubeadm token \
         create --print-join-command` prints it) or the endpoint, which may not be this cluster's"
    )]
    PinMismatch { expected: CaPin, found: CaPin },
    #[error(
        "{endpoint}: {reason}; the endpoint must be an address in the apiserver's certificate \
         (its SANs), signed by the cluster CA"
    )]
    Untrusted { endpoint: String, reason: String },
    #[error(
        "{endpoint} served another cluster-info over TLS than without it: something between \
         this node and the apiserver changes answers, or cluster-info was replaced meanwhile"
    )]
    Changed { endpoint: String },
    #[error("{0}")]
    Malformed(String),
}

impl DiscoveryError {
    /// A short stable name of the failure, for status reports.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Endpoint(_) => "endpoint",
            Self::Unreachable(_) => "unreachable",
            Self::Forbidden { .. } => "forbidden",
            Self::NoClusterInfo { .. } => "no-cluster-info",
            Self::ServerError { .. } => "server-error",
            Self::NoSignature { .. } => "no-signature",
            Self::BadSignature { .. } => "bad-signature",
            Self::PinMismatch { .. } => "ca-pin-mismatch",
            Self::Untrusted { .. } => "untrusted",
            Self::Changed { .. } => "changed",
            Self::Malformed(_) => "malformed",
        }
    }

    /// Whether waiting may help: the apiserver unreachable or starting, cluster-info or its
    /// signature not there yet.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Unreachable(_)
                | Self::NoClusterInfo { .. }
                | Self::ServerError { .. }
                | Self::NoSignature { .. }
        )
    }
}

/// How the CA was trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaVerification {
    /// Its public key matched the pin given.
    Pinned,
    /// No pin was given: the CA is trusted on the token's signature alone (kubeadm's
    /// `--discovery-token-unsafe-skip-ca-verification`).
    Unpinned,
}

/// What discovery established: the cluster's apiserver URL and CA, from a cluster-info whose
/// signature verified with the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trusted {
    /// The server URL cluster-info names.
    pub server: String,
    /// The cluster CA certificate, PEM, as cluster-info carries it.
    pub ca_pem: Vec<u8>,
    /// The signed kubeconfig text.
    pub kubeconfig: String,
    /// The CA's pin (to print, or to pin later joins with).
    pub ca_pin: CaPin,
    /// Whether a pin was checked.
    pub verification: CaVerification,
}

impl Trusted {
    /// The CA certificate, DER.
    pub fn ca_der(&self) -> Vec<u8> {
        ca_certificates(&self.ca_pem)
            .ok()
            .and_then(|mut certs| certs.pop())
            .unwrap_or_default()
    }

    /// kubeadm's warning when the CA was not pinned, for the caller to print; `None` when it was.
    pub fn unpinned_warning(&self) -> Option<String> {
        match self.verification {
            CaVerification::Pinned => None,
            CaVerification::Unpinned => Some(format!(
                "WARNING: the cluster CA was trusted without a CA pin, which is unsafe: whoever \
                 answers at the endpoint and knows the token could pose as the cluster; pin it \
                 with `ca_cert_hash: {}`",
                self.ca_pin
            )),
        }
    }
}

/// The apiserver URL of an endpoint given as `https://host:port`, `host:port` or `host` (port
/// [`DEFAULT_PORT`]); an IPv6 address in brackets (`[fd00::1]:6443`), or bare without a port.
pub fn endpoint_url(endpoint: &str) -> Result<String, DiscoveryError> {
    let (host, port) = endpoint_host_port(endpoint)?;
    Ok(format!("https://{host}:{port}"))
}

/// The host (an IPv6 address in brackets, as a URL writes it) and port of an endpoint given as
/// [`endpoint_url`] takes it.
pub fn endpoint_host_port(endpoint: &str) -> Result<(String, u16), DiscoveryError> {
    let refuse = || DiscoveryError::Endpoint(endpoint.to_owned());
    let text = endpoint.trim();
    let rest = match text.get(..8) {
        Some(scheme) if scheme.eq_ignore_ascii_case("https://") => &text[8..],
        _ if text.contains("://") => return Err(refuse()),
        _ => text,
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() || rest.contains(['/', '@', '?', '#']) || rest.contains(char::is_whitespace)
    {
        return Err(refuse());
    }
    let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
        let (ip, after) = bracketed.split_once(']').ok_or_else(refuse)?;
        let ip: Ipv6Addr = ip.parse().map_err(|_| refuse())?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or_else(refuse)?),
        };
        (format!("[{ip}]"), port)
    } else if let Ok(ip) = rest.parse::<Ipv6Addr>() {
        (format!("[{ip}]"), None)
    } else {
        let (host, port) = match rest.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        };
        let name_like = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_';
        if host.is_empty() || !host.chars().all(name_like) {
            return Err(refuse());
        }
        (host.to_owned(), port)
    };
    let port = match port {
        None => DEFAULT_PORT,
        Some(port) => port
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(refuse)?,
    };
    Ok((host, port))
}

/// Why a CA bundle gives no certificate.
#[derive(Debug, thiserror::Error)]
enum CaPemError {
    /// Not PEM text.
    #[error("not PEM ({0})")]
    NotPem(pem::PemError),
    /// PEM without a `CERTIFICATE` block.
    #[error("no PEM certificate")]
    NoCertificate,
}

/// The DER certificates of a PEM text; an error when it holds none or anything unreadable.
fn ca_certificates(pem_text: &[u8]) -> Result<Vec<Vec<u8>>, CaPemError> {
    let blocks = pem::parse_many(pem_text).map_err(CaPemError::NotPem)?;
    let certs: Vec<Vec<u8>> = blocks
        .into_iter()
        .filter(|b| b.tag() == "CERTIFICATE")
        .map(pem::Pem::into_contents)
        .collect();
    if certs.is_empty() {
        return Err(CaPemError::NoCertificate);
    }
    Ok(certs)
}

fn malformed(what: impl std::fmt::Display) -> DiscoveryError {
    DiscoveryError::Malformed(format!(
        "cluster-info {what}: the cluster's cluster-info is not what kubeadm writes"
    ))
}

/// Checks one cluster-info's data for `token`: the kubeconfig signed with the token secret
/// (`jws-kubeconfig-<id>`), naming one server and exactly one CA certificate, whose public key
/// matches `pin` when given. Pure.
pub fn verify(
    data: &BTreeMap<String, String>,
    token: &BootstrapToken,
    pin: Option<&CaPin>,
) -> Result<Trusted, DiscoveryError> {
    let kubeconfig = data
        .get(KUBECONFIG_KEY)
        .ok_or_else(|| malformed("has no `kubeconfig` key"))?;
    let signature = data
        .get(&token.jws_key())
        .ok_or_else(|| DiscoveryError::NoSignature {
            id: token.id().to_owned(),
        })?;
    if !jws::verify(signature, kubeconfig, token.id(), token.secret()) {
        return Err(DiscoveryError::BadSignature {
            id: token.id().to_owned(),
        });
    }
    let file = Kubeconfig::from_yaml(kubeconfig)
        .map_err(|e| malformed(format_args!("holds no readable kubeconfig ({e})")))?;
    let [named] = file.clusters.as_slice() else {
        return Err(malformed(format_args!(
            "names {} clusters, not one",
            file.clusters.len()
        )));
    };
    let cluster = named
        .cluster
        .as_ref()
        .ok_or_else(|| malformed("names a cluster without details"))?;
    let server = cluster
        .server
        .clone()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| malformed("names no server"))?;
    let ca_pem = cluster
        .certificate_authority_data
        .as_deref()
        .ok_or_else(|| malformed("has no certificate-authority-data"))?;
    let ca_pem = STANDARD
        .decode(ca_pem.trim())
        .map_err(|_| malformed("has certificate-authority-data that is not base64"))?;
    let certs = ca_certificates(&ca_pem)
        .map_err(|e| malformed(format_args!("has certificate-authority-data with {e}")))?;
    let [ca_der] = certs.as_slice() else {
        return Err(malformed(format_args!(
            "has {} CA certificates, not one",
            certs.len()
        )));
    };
    let (_, ca) = X509Certificate::from_der(ca_der)
        .map_err(|_| malformed("has a CA certificate that does not parse"))?;
    if !ca.is_ca() {
        return Err(malformed(
            "has a certificate-authority-data certificate that is not a CA",
        ));
    }
    let found =
        CaPin::of_der(ca_der).map_err(|_| malformed("has a CA certificate that does not parse"))?;
    let verification = match pin {
        Some(expected) if *expected != found => {
            return Err(DiscoveryError::PinMismatch {
                expected: *expected,
                found,
            });
        }
        Some(_) => CaVerification::Pinned,
        None => CaVerification::Unpinned,
    };
    Ok(Trusted {
        server,
        ca_pem,
        kubeconfig: kubeconfig.clone(),
        ca_pin: found,
        verification,
    })
}

/// How a client trusts the apiserver.
pub(crate) enum Trust<'a> {
    /// Any certificate (the first discovery read, which the signature then vouches for).
    Anything,
    /// Only certificates signed by this CA (DER).
    Ca(&'a [u8]),
}

/// Why no client of an apiserver URL can be made.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpClientError {
    /// The URL is not one.
    #[error("{url}: {source}")]
    Url {
        /// The URL.
        url: String,
        /// Why.
        source: http::uri::InvalidUri,
    },
    /// kube-rs could not make a client of the configuration.
    #[error("making the HTTP client of {url}: {source}")]
    Client {
        /// The URL.
        url: String,
        /// Why.
        source: kube::Error,
    },
}

/// A kube-rs client of `url`, anonymous or with `token` as its bearer token; no retries of its
/// own (the callers' waiting is bounded by their deadline).
pub(crate) fn client(
    url: &str,
    trust: Trust<'_>,
    token: Option<&BootstrapToken>,
) -> Result<Client, HttpClientError> {
    let uri: http::Uri = url.parse().map_err(|source| HttpClientError::Url {
        url: url.to_owned(),
        source,
    })?;
    let mut config = Config::new(uri);
    match trust {
        Trust::Anything => config.accept_invalid_certs = true,
        Trust::Ca(der) => config.root_cert = Some(vec![der.to_vec()]),
    }
    if let Some(token) = token {
        config.auth_info.token = Some(format!("{}.{}", token.id(), token.secret()).into());
    }
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    config.read_timeout = Some(REQUEST_TIMEOUT);
    config.default_retry = false;
    Client::try_from(config).map_err(|source| HttpClientError::Client {
        url: url.to_owned(),
        source,
    })
}

/// One answer: its status and body, or why there was none (the innermost cause, and whether
/// it was TLS refusing the peer's certificate).
pub(crate) enum Exchange {
    Answer { status: u16, body: Vec<u8> },
    Failed { reason: String, tls: bool },
}

/// `GET path` through `client`, within [`REQUEST_TIMEOUT`] and the deadline (at least a second).
pub(crate) async fn get(client: &Client, path: &str, deadline: Instant) -> Exchange {
    let request = match http::Request::get(path).body(Body::empty()) {
        Ok(request) => request,
        Err(e) => {
            return Exchange::Failed {
                reason: e.to_string(),
                tls: false,
            };
        }
    };
    let exchange = async {
        let response = client.send(request).await?;
        let status = response.status().as_u16();
        let body = response.into_body().collect_bytes().await?;
        Ok::<_, kube::Error>((status, body.to_vec()))
    };
    let limit = deadline
        .saturating_duration_since(Instant::now())
        .clamp(Duration::from_secs(1), REQUEST_TIMEOUT);
    match tokio::time::timeout(limit, exchange).await {
        Ok(Ok((status, body))) => Exchange::Answer { status, body },
        Ok(Err(e)) => Exchange::Failed {
            tls: is_tls(&e),
            reason: cause(&e),
        },
        Err(_) => Exchange::Failed {
            reason: format!("no answer in {limit:?}"),
            tls: false,
        },
    }
}

/// Whether a transport error is TLS refusing the peer (tokio-rustls reports it as an I/O error
/// of kind `InvalidData` holding rustls's error).
fn is_tls(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::InvalidData
        {
            return true;
        }
        if e.to_string().contains("invalid peer certificate") {
            return true;
        }
        next = e.source();
    }
    false
}

/// One read of cluster-info: its data, or the error it makes.
async fn read_cluster_info(
    client: &Client,
    url: &str,
    deadline: Instant,
    tls_is_permanent: bool,
) -> Result<BTreeMap<String, String>, DiscoveryError> {
    let endpoint = url.to_owned();
    match get(client, CLUSTER_INFO_PATH, deadline).await {
        Exchange::Failed { reason, tls } if tls && tls_is_permanent => {
            Err(DiscoveryError::Untrusted { endpoint, reason })
        }
        Exchange::Failed { reason, .. } => {
            Err(DiscoveryError::Unreachable(format!("{url}: {reason}")))
        }
        Exchange::Answer { status: 200, body } => {
            let map: ConfigMap = serde_json::from_slice(&body)
                .map_err(|e| malformed(format_args!("from {url} is not a ConfigMap ({e})")))?;
            Ok(map.data.unwrap_or_default())
        }
        Exchange::Answer { status, .. } => Err(match status {
            401 | 403 => DiscoveryError::Forbidden { endpoint, status },
            404 => DiscoveryError::NoClusterInfo { endpoint },
            429 | 500..=599 => DiscoveryError::ServerError { endpoint, status },
            _ => DiscoveryError::Malformed(format!(
                "{url} answered {status} to a GET of cluster-info: is this a Kubernetes apiserver?"
            )),
        }),
    }
}

/// Runs `attempt` until it succeeds or fails permanently, pausing 250 ms doubling to 5 s after
/// each transient failure, until `deadline` (one more try at it); the last error then. Says on
/// stderr what it waits for, now and then.
async fn patiently<T, F, Fut>(
    what: &str,
    deadline: Instant,
    mut attempt: F,
) -> Result<T, DiscoveryError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, DiscoveryError>>,
{
    let mut pause = MIN_BACKOFF;
    let mut tries = 0u32;
    loop {
        tries += 1;
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(e) if e.is_transient() && Instant::now() < deadline => {
                if tries == 1 || tries.is_power_of_two() {
                    eprintln!("{what}: {e}; retrying");
                }
                tokio::time::sleep(pause.min(deadline.saturating_duration_since(Instant::now())))
                    .await;
                pause = (pause * 2).min(MAX_BACKOFF);
            }
            Err(e) => return Err(e),
        }
    }
}

/// kubeadm's token discovery against `endpoint` (see [`endpoint_url`]) until `deadline`: the
/// cluster-info `token` signed, its CA checked against `pin`, and read again over TLS trusting
/// only that CA. Waits while the apiserver is unreachable or starting, cluster-info is missing or
/// the token's signature is not there yet; a wrong secret, a wrong pin, a refusal or a changed
/// answer end it at once.
pub async fn discover(
    endpoint: &str,
    token: &BootstrapToken,
    pin: Option<&CaPin>,
    deadline: Instant,
) -> Result<Trusted, DiscoveryError> {
    let url = endpoint_url(endpoint)?;
    let insecure = client(&url, Trust::Anything, None)
        .map_err(|e| DiscoveryError::Unreachable(e.to_string()))?;
    let trusted = patiently("discovery: reading cluster-info", deadline, || async {
        let data = read_cluster_info(&insecure, &url, deadline, false).await?;
        verify(&data, token, pin)
    })
    .await?;
    let ca_der = trusted.ca_der();
    let secure = client(&url, Trust::Ca(&ca_der), None).map_err(|e| DiscoveryError::Untrusted {
        endpoint: url.clone(),
        reason: e.to_string(),
    })?;
    let again = patiently(
        "discovery: reading cluster-info trusting the cluster CA",
        deadline,
        || read_cluster_info(&secure, &url, deadline, true),
    )
    .await?;
    confirm(&trusted, &again, &url)?;
    Ok(trusted)
}

/// Whether cluster-info read again over TLS (`again`) holds the kubeconfig text that was
/// verified. Pure.
pub fn confirm(
    trusted: &Trusted,
    again: &BTreeMap<String, String>,
    endpoint: &str,
) -> Result<(), DiscoveryError> {
    if again.get(KUBECONFIG_KEY) == Some(&trusted.kubeconfig) {
        Ok(())
    } else {
        Err(DiscoveryError::Changed {
            endpoint: endpoint.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::objects::cluster_info_kubeconfig;
    use crate::pki::{issue::Authority, keys};

    const ID: &str = "abcdef";
    const SECRET: &str = "0123456789abcdef";
    const SERVER: &str = "https://10.0.0.10:6443";

    fn token(text: &str) -> BootstrapToken {
        BootstrapToken::parse(text).unwrap()
    }

    fn good_token() -> BootstrapToken {
        token(&format!("{ID}.{SECRET}"))
    }

    fn ca() -> Authority {
        Authority::create("kubernetes", keys::generate().unwrap(), 1_750_000_000).unwrap()
    }

    /// cluster-info as the cluster has it once the bootstrapsigner signed it for `signers`.
    fn cluster_info(kubeconfig: &str, signers: &[&BootstrapToken]) -> BTreeMap<String, String> {
        let mut data = BTreeMap::from([(KUBECONFIG_KEY.to_owned(), kubeconfig.to_owned())]);
        for t in signers {
            data.insert(
                t.jws_key(),
                jws::compute_detached(kubeconfig, t.id(), t.secret()),
            );
        }
        data
    }

    #[test]
    fn a_signed_cluster_info_with_the_pinned_ca() {
        let ca = ca();
        let kubeconfig = cluster_info_kubeconfig(SERVER, ca.cert_pem.as_bytes());
        let data = cluster_info(&kubeconfig, &[&good_token()]);
        let pin = CaPin::of_certificate(ca.cert_pem.as_bytes()).unwrap();
        let trusted = verify(&data, &good_token(), Some(&pin)).unwrap();
        assert_eq!(trusted.server, SERVER);
        assert_eq!(trusted.ca_pem, ca.cert_pem.as_bytes());
        assert_eq!(trusted.kubeconfig, kubeconfig);
        assert_eq!(trusted.ca_pin, pin);
        assert_eq!(trusted.verification, CaVerification::Pinned);
        assert_eq!(trusted.unpinned_warning(), None);
        assert_eq!(trusted.ca_der(), ca.info.der);

        let unpinned = verify(&data, &good_token(), None).unwrap();
        assert_eq!(unpinned.verification, CaVerification::Unpinned);
        let warning = unpinned.unpinned_warning().unwrap();
        assert!(warning.contains(&pin.to_string()), "{warning}");
    }

    #[test]
    fn ca_bundles_without_a_certificate_and_bad_urls_say_why() {
        assert!(matches!(
            ca_certificates(b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"),
            Err(CaPemError::NotPem(_))
        ));
        let key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        let e = ca_certificates(key.as_bytes()).unwrap_err();
        assert!(matches!(e, CaPemError::NoCertificate), "{e:?}");
        assert_eq!(e.to_string(), "no PEM certificate");
        let Err(e) = client("https://[::1", Trust::Anything, None) else {
            panic!("a client of a URL that is not one");
        };
        assert!(matches!(e, HttpClientError::Url { .. }), "{e:?}");
        assert!(e.to_string().starts_with("https://[::1: "), "{e}");
    }

    #[test]
    fn the_second_read_must_hold_the_same_text() {
        let ca = ca();
        let kubeconfig = cluster_info_kubeconfig(SERVER, ca.cert_pem.as_bytes());
        let data = cluster_info(&kubeconfig, &[&good_token()]);
        let trusted = verify(&data, &good_token(), None).unwrap();
        // The signatures may change (another token signed meanwhile); the kubeconfig may not.
        let mut again = cluster_info(&kubeconfig, &[]);
        assert_eq!(confirm(&trusted, &again, SERVER), Ok(()));
        again.insert(
            KUBECONFIG_KEY.into(),
            cluster_info_kubeconfig("https://10.6.6.6:6443", ca.cert_pem.as_bytes()),
        );
        let e = confirm(&trusted, &again, SERVER).unwrap_err();
        assert_eq!(e.kind(), "changed", "{e}");
        again.remove(KUBECONFIG_KEY);
        assert_eq!(
            confirm(&trusted, &again, SERVER).unwrap_err().kind(),
            "changed"
        );
    }

    #[test]
    fn refusals() {
        let ca = ca();
        let kubeconfig = cluster_info_kubeconfig(SERVER, ca.cert_pem.as_bytes());
        let good = good_token();

        let mut no_kubeconfig = cluster_info(&kubeconfig, &[&good]);
        no_kubeconfig.remove(KUBECONFIG_KEY);
        let e = verify(&no_kubeconfig, &good, None).unwrap_err();
        assert_eq!(e.kind(), "malformed", "{e}");

        // Signed for another token only.
        let other = token("zyxwvu.0123456789abcdef");
        let e = verify(&cluster_info(&kubeconfig, &[&other]), &good, None).unwrap_err();
        assert_eq!(e, DiscoveryError::NoSignature { id: ID.into() });
        assert_eq!(e.kind(), "no-signature");
        assert!(e.is_transient());

        // Signed with another secret under the same id.
        let wrong = token(&format!("{ID}.0123456789abcdee"));
        let e = verify(&cluster_info(&kubeconfig, &[&wrong]), &good, None).unwrap_err();
        assert_eq!(e, DiscoveryError::BadSignature { id: ID.into() });
        assert_eq!(e.kind(), "bad-signature");
        assert!(!e.is_transient());
        // The signature over another text.
        let mut altered = cluster_info(&kubeconfig, &[&good]);
        altered.insert(
            KUBECONFIG_KEY.into(),
            cluster_info_kubeconfig("https://10.6.6.6:6443", ca.cert_pem.as_bytes()),
        );
        assert_eq!(
            verify(&altered, &good, None).unwrap_err().kind(),
            "bad-signature"
        );

        // Another CA than the pinned one.
        let pin = CaPin::of_certificate(self::ca().cert_pem.as_bytes()).unwrap();
        let found = CaPin::of_certificate(ca.cert_pem.as_bytes()).unwrap();
        let e = verify(&cluster_info(&kubeconfig, &[&good]), &good, Some(&pin)).unwrap_err();
        assert_eq!(
            e,
            DiscoveryError::PinMismatch {
                expected: pin,
                found
            }
        );
        assert_eq!(e.kind(), "ca-pin-mismatch");
        let message = e.to_string();
        assert!(message.contains(&pin.to_string()) && message.contains(&found.to_string()));
    }

    #[test]
    fn the_ca_must_be_one_ca_certificate() {
        let good = good_token();
        let signed = |ca_pem: &[u8]| {
            let kubeconfig = cluster_info_kubeconfig(SERVER, ca_pem);
            verify(&cluster_info(&kubeconfig, &[&good]), &good, None)
        };
        let (a, b) = (ca(), ca());
        let two = format!("{}{}", a.cert_pem, b.cert_pem);
        for bad in [
            b"not pem".to_vec(),
            two.into_bytes(),
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_vec(),
            leaf(&a).into_bytes(),
        ] {
            let e = signed(&bad).unwrap_err();
            assert_eq!(e.kind(), "malformed", "{e}");
        }
        // Not a kubeconfig, and one without a server.
        for text in [
            "{ not: [yaml".to_owned(),
            "apiVersion: v1\nkind: Config\nclusters: []\n".to_owned(),
            cluster_info_kubeconfig("", a.cert_pem.as_bytes()).replace("server: \n", ""),
        ] {
            let e = verify(&cluster_info(&text, &[&good]), &good, None).unwrap_err();
            assert_eq!(e.kind(), "malformed", "{text}: {e}");
        }
    }

    fn leaf(ca: &Authority) -> String {
        use crate::pki::plan::{Subject, Usage};
        ca.issue(
            &Subject {
                common_name: "leaf".into(),
                organizations: Vec::new(),
            },
            &[],
            Usage::Client,
            &keys::generate().unwrap(),
            1_750_000_000,
        )
        .unwrap()
    }

    #[test]
    fn messages_never_hold_the_secret() {
        let e = [
            DiscoveryError::NoSignature { id: ID.into() },
            DiscoveryError::BadSignature { id: ID.into() },
            DiscoveryError::Unreachable("https://10.0.0.1:6443: tcp connect error".into()),
        ];
        for e in e {
            let text = e.to_string();
            assert!(!text.contains(SECRET) && !text.contains('\n'), "{text}");
        }
        let debug = format!("{:?}", good_token());
        assert!(!debug.contains(SECRET));
    }

    #[test]
    fn endpoints() {
        for (given, url) in [
            ("10.0.0.10", "https://10.0.0.10:6443"),
            ("10.0.0.10:443", "https://10.0.0.10:443"),
            ("https://10.0.0.10:6443", "https://10.0.0.10:6443"),
            ("HTTPS://cp.example.com/", "https://cp.example.com:6443"),
            ("cp-1.example.com:6443", "https://cp-1.example.com:6443"),
            ("[fd00::10]:6443", "https://[fd00::10]:6443"),
            ("[fd00::10]", "https://[fd00::10]:6443"),
            ("https://[fd00:0::10]:8443", "https://[fd00::10]:8443"),
            ("fd00::10", "https://[fd00::10]:6443"),
            (" 10.0.0.10:6443\n", "https://10.0.0.10:6443"),
        ] {
            assert_eq!(endpoint_url(given).as_deref(), Ok(url), "{given:?}");
        }
        for bad in [
            "",
            "http://10.0.0.10:6443",
            "10.0.0.10:",
            "10.0.0.10:0",
            "10.0.0.10:65536",
            "10.0.0.10:6443/api",
            "[fd00::10]6443",
            "[fd00::zz]:6443",
            "[fd00::10",
            "user@host",
            "host:port",
            "a b",
        ] {
            let e = endpoint_url(bad).unwrap_err();
            assert_eq!(e.kind(), "endpoint", "{bad:?}");
        }
    }
}
