//! A joining control plane's shared PKI: `kube-system/kubeadm-certs` read with the bootstrap
//! token over TLS trusting the CA discovery established, each entry decrypted with the
//! certificate key (`cluster::certs`, kubeadm `phases/copycerts`), and the files written under
//! the node's PKI directory — kept when already there with the same bytes, and never over a
//! different file (a node that belonged to another cluster).
//!
//! No error message holds a file's content, the token secret or the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Secret;
use tokio::time::Instant;

use super::discovery::{self, Exchange, Trust, Trusted};
use crate::cluster::certs::{FILES, SECRET, decrypt, secret_key};
use crate::cluster::token::{BootstrapToken, CertificateKey};
use crate::pki::store::{self, StoreError, Tree};

/// Where the Secret is read.
pub const KUBEADM_CERTS_PATH: &str = "/api/v1/namespaces/kube-system/secrets/kubeadm-certs";
/// How long the one read may take.
const FETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The advice when the cluster has no uploaded certificates for this token to read.
const NO_UPLOAD: &str = "the cluster's certificates were not uploaded: run `kubeadm init phase \
                         upload-certs --upload-certs` on a control plane, or give the init \
                         node a certificate_key";

/// Why the shared certificates could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertsFetchError {
    #[error("{endpoint}: {reason}; check that the apiserver runs and is reachable")]
    Unreachable { endpoint: String, reason: String },
    #[error(
        "{endpoint} does not know bootstrap token id {id} (401): the token is unknown to the \
         cluster or has expired"
    )]
    Unauthorized { endpoint: String, id: String },
    #[error(
        "{endpoint} forbids token id {id} to read kube-system/kubeadm-certs (403): the Role \
         kubeadm:kubeadm-certs is missing (the certificates were never uploaded: run `kubeadm \
         init phase upload-certs --upload-certs`, or give the init node a certificate_key) or \
         the token is not in kubeadm's group system:bootstrappers:kubeadm:default-node-token \
         (its Secret's auth-extra-groups)"
    )]
    Forbidden { endpoint: String, id: String },
    #[error("{endpoint} has no kube-system/kubeadm-certs (404): {NO_UPLOAD}")]
    NotFound { endpoint: String },
    #[error(
        "kubeadm-certs' {entry} does not decrypt: the certificate key is not the one the \
         certificates were uploaded with"
    )]
    WrongKey { entry: String },
    #[error("{0}")]
    Malformed(String),
}

impl CertsFetchError {
    /// A short stable name of the failure, for status reports.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Unreachable { .. } => "unreachable",
            Self::Unauthorized { .. } => "unauthorized",
            Self::Forbidden { .. } => "forbidden",
            Self::NotFound { .. } => "no-kubeadm-certs",
            Self::WrongKey { .. } => "wrong-certificate-key",
            Self::Malformed(_) => "malformed",
        }
    }
}

/// The shared PKI files, by path under the PKI directory (`etcd/ca.crt`), from a `kubeadm-certs`
/// Secret's data: each of kubeadm's files decrypted with `key`; an optional etcd CA file left out
/// when its entry is empty or missing; other entries ignored. Pure.
pub fn decrypt_files(
    data: &BTreeMap<String, Vec<u8>>,
    key: &CertificateKey,
) -> Result<BTreeMap<String, Vec<u8>>, CertsFetchError> {
    let mut files = BTreeMap::new();
    for (file, optional) in FILES {
        let entry = secret_key(file);
        match data.get(&entry) {
            Some(value) if !value.is_empty() => {
                let plain = decrypt(value, key).ok_or(CertsFetchError::WrongKey { entry })?;
                files.insert(file.to_owned(), plain);
            }
            _ if optional => {}
            _ => {
                return Err(CertsFetchError::Malformed(format!(
                    "kubeadm-certs has no {entry}: it was not uploaded by kubeadm or Plinth; \
                     upload the certificates again"
                )));
            }
        }
    }
    Ok(files)
}

/// Reads `kube-system/kubeadm-certs` from `endpoint` (see [`discovery::endpoint_url`]) as the
/// bootstrap token, trusting only the CA of `trusted`, and decrypts it with `key`: the shared PKI
/// files by path under the PKI directory. One try; the caller decides whether to try again.
pub async fn fetch_control_plane_certs(
    trusted: &Trusted,
    endpoint: &str,
    token: &BootstrapToken,
    key: &CertificateKey,
) -> Result<BTreeMap<String, Vec<u8>>, CertsFetchError> {
    let url =
        discovery::endpoint_url(endpoint).map_err(|e| CertsFetchError::Malformed(e.to_string()))?;
    let unreachable = |reason: String| CertsFetchError::Unreachable {
        endpoint: url.clone(),
        reason,
    };
    let ca_der = trusted.ca_der();
    let client = discovery::client(&url, Trust::Ca(&ca_der), Some(token))
        .map_err(|e| unreachable(e.to_string()))?;
    let deadline = Instant::now() + FETCH_TIMEOUT;
    let body = match discovery::get(&client, KUBEADM_CERTS_PATH, deadline).await {
        Exchange::Failed { reason, .. } => return Err(unreachable(reason)),
        Exchange::Answer { status: 200, body } => body,
        Exchange::Answer { status, .. } => {
            let (endpoint, id) = (url.clone(), token.id().to_owned());
            return Err(match status {
                401 => CertsFetchError::Unauthorized { endpoint, id },
                403 => CertsFetchError::Forbidden { endpoint, id },
                404 => CertsFetchError::NotFound { endpoint },
                _ => unreachable(format!("answered {status} to a GET of {SECRET}")),
            });
        }
    };
    let secret: Secret = serde_json::from_slice(&body)
        .map_err(|e| CertsFetchError::Malformed(format!("{url}'s answer is not a Secret ({e})")))?;
    let data = secret
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect();
    decrypt_files(&data, key)
}

/// What [`write_shared_pki`] did, by path under the PKI directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteReport {
    /// Files written.
    pub written: Vec<String>,
    /// Files already there with the same bytes.
    pub kept: Vec<String>,
}

/// Why the shared PKI was not written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(
        "{} already exists with other content: this node holds another cluster's PKI; wipe \
         the state partition or remove /var/lib/plinth/pki to join this cluster (nothing was \
         written)",
        .0.display()
    )]
    Differs(PathBuf),
    #[error("{0}: not a path under the PKI directory")]
    Path(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The mode of a PKI file: private keys 0600, the rest 0644.
pub fn mode_of(file: &str) -> u32 {
    if file.ends_with(".key") { 0o600 } else { 0o644 }
}

/// Writes `files` (paths under `pki_dir`, as [`fetch_control_plane_certs`] gives them) with
/// [`mode_of`] their mode, making `pki_dir` and its subdirectories (0700) as needed. A file
/// already holding the same bytes is kept (its mode set); when any existing file differs,
/// nothing at all is written.
pub fn write_shared_pki(
    pki_dir: &Path,
    files: &BTreeMap<String, Vec<u8>>,
) -> Result<WriteReport, WriteError> {
    let (base, name) = match (pki_dir.parent(), pki_dir.file_name()) {
        (Some(parent), Some(name)) => (parent, PathBuf::from(name)),
        _ => return Err(WriteError::Path(pki_dir.display().to_string())),
    };
    let tree = Tree {
        base: base.to_path_buf(),
        staged: false,
    };
    let mut report = WriteReport::default();
    for (file, bytes) in files {
        let rel = Path::new(file);
        if rel.is_absolute()
            || rel
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err(WriteError::Path(file.clone()));
        }
        match tree.read(&name.join(rel))? {
            Some(existing) if existing == *bytes => report.kept.push(file.clone()),
            Some(_) => return Err(WriteError::Differs(pki_dir.join(rel))),
            None => report.written.push(file.clone()),
        }
    }
    store::make_root(base)?;
    for file in &report.kept {
        tree.ensure_mode(&name.join(file), mode_of(file))?;
    }
    for file in &report.written {
        tree.write(&name.join(file), &files[file], mode_of(file))?;
    }
    Ok(report)
}

/// The etcd CA's files of the shared certificates: what an agent running an etcd member keeps
/// of them (its etcd certificates are issued from it; the cluster CA's key and the rest stay
/// with the control planes). A cluster whose etcd is not stacked shares none. Pure.
pub fn etcd_ca(
    mut files: BTreeMap<String, Vec<u8>>,
) -> Result<BTreeMap<String, Vec<u8>>, CertsFetchError> {
    let mut kept = BTreeMap::new();
    for file in ETCD_CA {
        let bytes = files.remove(file).ok_or_else(|| {
            CertsFetchError::Malformed(format!(
                "kubeadm-certs holds no etcd CA ({file}): the cluster's etcd is not stacked on \
                 its control planes (external etcd), so it has no members for this node to join"
            ))
        })?;
        kept.insert(file.to_owned(), bytes);
    }
    Ok(kept)
}

/// The etcd CA's files, by path under the PKI directory.
const ETCD_CA: [&str; 2] = ["etcd/ca.crt", "etcd/ca.key"];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::certs::encrypt;
    use std::os::unix::fs::PermissionsExt;

    fn key(byte: u8) -> CertificateKey {
        CertificateKey::parse(&format!("{byte:02x}").repeat(32)).unwrap()
    }

    fn plain(with_etcd: bool) -> BTreeMap<String, Vec<u8>> {
        FILES
            .iter()
            .filter(|(file, optional)| with_etcd || !optional || !file.starts_with("etcd/"))
            .map(|(file, _)| {
                (
                    (*file).to_owned(),
                    format!("content of {file}").into_bytes(),
                )
            })
            .collect()
    }

    fn uploaded(
        files: &BTreeMap<String, Vec<u8>>,
        key: &CertificateKey,
    ) -> BTreeMap<String, Vec<u8>> {
        FILES
            .iter()
            .map(|(file, _)| {
                let value = files
                    .get(*file)
                    .map(|data| encrypt(data, key).unwrap())
                    .unwrap_or_default();
                (secret_key(file), value)
            })
            .collect()
    }

    #[test]
    fn decrypts_kubeadms_entries_by_path() {
        let files = plain(true);
        let mut data = uploaded(&files, &key(1));
        data.insert("external-etcd-ca.crt".into(), Vec::new());
        assert_eq!(decrypt_files(&data, &key(1)).unwrap(), files);
        assert!(files.contains_key("etcd/ca.crt"));

        let e = decrypt_files(&data, &key(2)).unwrap_err();
        assert_eq!(e.kind(), "wrong-certificate-key");
        assert!(e.to_string().contains("ca.crt"), "{e}");
    }

    #[test]
    fn an_empty_etcd_ca_is_left_out_a_missing_file_is_not() {
        let files = plain(false);
        let data = uploaded(&files, &key(1));
        assert!(data["etcd-ca.crt"].is_empty());
        let got = decrypt_files(&data, &key(1)).unwrap();
        assert_eq!(got, files);
        assert!(!got.contains_key("etcd/ca.crt"));

        let mut missing = data.clone();
        missing.remove("sa.key");
        assert_eq!(
            decrypt_files(&missing, &key(1)).unwrap_err().kind(),
            "malformed"
        );
        let mut empty = data;
        empty.insert("ca.key".into(), Vec::new());
        assert_eq!(
            decrypt_files(&empty, &key(1)).unwrap_err().kind(),
            "malformed"
        );
    }

    #[test]
    fn an_etcd_member_keeps_only_the_etcd_ca() {
        let kept = etcd_ca(plain(true)).unwrap();
        assert_eq!(
            kept.keys().collect::<Vec<_>>(),
            ["etcd/ca.crt", "etcd/ca.key"]
        );
        assert_eq!(kept["etcd/ca.key"], b"content of etcd/ca.key");
        let e = etcd_ca(plain(false)).unwrap_err();
        assert_eq!(e.kind(), "malformed");
        assert!(e.to_string().contains("not stacked"), "{e}");
    }

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("plinth-join-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn writes_keeps_and_refuses() {
        let root = temp("write");
        let pki = root.join("var/lib/plinth/pki");
        let files = plain(true);
        let report = write_shared_pki(&pki, &files).unwrap();
        assert_eq!(report.written.len(), files.len());
        assert!(report.kept.is_empty());
        for (file, bytes) in &files {
            assert_eq!(&std::fs::read(pki.join(file)).unwrap(), bytes);
        }
        assert_eq!(mode(&pki.join("ca.key")), 0o600);
        assert_eq!(mode(&pki.join("etcd/ca.key")), 0o600);
        assert_eq!(mode(&pki.join("ca.crt")), 0o644);
        assert_eq!(mode(&pki.join("sa.pub")), 0o644);
        assert_eq!(mode(&pki), 0o700);
        assert_eq!(mode(&pki.join("etcd")), 0o700);

        // Again: everything kept, modes restored.
        std::fs::set_permissions(pki.join("sa.key"), std::fs::Permissions::from_mode(0o644))
            .unwrap();
        let report = write_shared_pki(&pki, &files).unwrap();
        assert!(report.written.is_empty());
        assert_eq!(report.kept.len(), files.len());
        assert_eq!(mode(&pki.join("sa.key")), 0o600);

        // One file of another cluster: refused, naming it, nothing written (not even the
        // missing files).
        std::fs::remove_file(pki.join("ca.crt")).unwrap();
        std::fs::write(pki.join("sa.pub"), b"another cluster's").unwrap();
        let e = write_shared_pki(&pki, &files).unwrap_err();
        assert!(
            matches!(e, WriteError::Differs(ref p) if p.ends_with("sa.pub")),
            "{e}"
        );
        assert!(e.to_string().contains("sa.pub"), "{e}");
        assert!(!pki.join("ca.crt").exists(), "nothing was written");
        assert_eq!(
            std::fs::read(pki.join("sa.pub")).unwrap(),
            b"another cluster's"
        );

        let mut escaping = files.clone();
        escaping.insert("../outside".into(), b"x".to_vec());
        assert!(matches!(
            write_shared_pki(&pki, &escaping),
            Err(WriteError::Path(_))
        ));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
