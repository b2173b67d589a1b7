//! `kube-system/kubeadm-certs`: the control planes' shared PKI, encrypted with the certificate key,
//! exactly as `kubeadm init phase upload-certs` writes it (kubeadm `phases/copycerts`,
//! `util/crypto`), so that `kubeadm join --control-plane --certificate-key` and a Plinth `server`
//! read it alike.
//!
//! One Secret entry per file, named after the file's path under the PKI directory with `/` turned
//! into `-` (`etcd/ca.crt` → `etcd-ca.crt`); each value is AES-256-GCM with a fresh random 12-byte
//! nonce, stored as `nonce ‖ ciphertext ‖ tag`, no additional data. A missing etcd CA (a node
//! without stacked etcd) is an empty entry, as kubeadm leaves a file it does not find.
//!
//! Unlike kubeadm, which ties the Secret to a two-hour token so that it disappears, Plinth keeps it:
//! the certificate key is part of the cluster's declared secrets and a `server` may join at any
//! time. Anyone holding the bootstrap token can read the Secret (the `kubeadm:kubeadm-certs` Role),
//! and only the certificate key opens it.

use std::collections::BTreeMap;
use std::path::Path;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

use super::token::CertificateKey;

/// The Secret's name.
pub const SECRET: &str = "kubeadm-certs";

/// The files uploaded, as paths under the PKI directory (kubeadm's `certsToTransfer`, stacked
/// etcd), and whether the file may be missing (then its entry is empty).
pub const FILES: [(&str, bool); 8] = [
    ("ca.crt", false),
    ("ca.key", false),
    ("front-proxy-ca.crt", false),
    ("front-proxy-ca.key", false),
    ("etcd/ca.crt", true),
    ("etcd/ca.key", true),
    ("sa.key", false),
    ("sa.pub", false),
];

/// The Secret key of a PKI file: kubeadm's `certOrKeyNameToSecretName`.
pub fn secret_key(file: &str) -> String {
    file.replace('/', "-")
}

/// Why the certificates could not be read, encrypted or decrypted.
#[derive(Debug, thiserror::Error)]
pub enum CertsError {
    #[error("reading {path}: {error}")]
    Read { path: String, error: std::io::Error },
    #[error("no random bytes for a nonce")]
    Random,
    #[error("{0}: does not decrypt with the certificate key")]
    Decrypt(String),
}

fn key(certificate_key: &CertificateKey) -> LessSafeKey {
    LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, certificate_key.bytes()).expect("a 32-byte AES-256 key"),
    )
}

/// kubeadm's `EncryptBytes` with the given nonce: `nonce ‖ ciphertext ‖ tag`.
pub fn encrypt_with_nonce(
    data: &[u8],
    certificate_key: &CertificateKey,
    nonce: [u8; NONCE_LEN],
) -> Vec<u8> {
    let mut sealed = data.to_vec();
    key(certificate_key)
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::empty(),
            &mut sealed,
        )
        .expect("AES-GCM seals any input shorter than 64 GiB");
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    out
}

/// kubeadm's `EncryptBytes`: a fresh random nonce.
pub fn encrypt(data: &[u8], certificate_key: &CertificateKey) -> Result<Vec<u8>, CertsError> {
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| CertsError::Random)?;
    Ok(encrypt_with_nonce(data, certificate_key, nonce))
}

/// kubeadm's `DecryptBytes`; `None` when the data is short, altered or under another key.
pub fn decrypt(data: &[u8], certificate_key: &CertificateKey) -> Option<Vec<u8>> {
    if data.len() < NONCE_LEN {
        return None;
    }
    let (nonce, sealed) = data.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut sealed = sealed.to_vec();
    let plain = key(certificate_key)
        .open_in_place(nonce, Aad::empty(), &mut sealed)
        .ok()?;
    Some(plain.to_vec())
}

/// The plain contents of the files, by Secret key (an empty value for a missing optional file).
pub fn read_files(pki_dir: &Path) -> Result<BTreeMap<String, Vec<u8>>, CertsError> {
    let mut out = BTreeMap::new();
    for (file, optional) in FILES {
        let path = pki_dir.join(file);
        let data = match std::fs::read(&path) {
            Ok(data) => data,
            Err(e) if optional && e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(error) => {
                return Err(CertsError::Read {
                    path: path.display().to_string(),
                    error,
                });
            }
        };
        out.insert(secret_key(file), data);
    }
    Ok(out)
}

/// The Secret's data for the plain files: each non-empty value encrypted, empty ones kept empty.
pub fn encrypt_all(
    plain: &BTreeMap<String, Vec<u8>>,
    certificate_key: &CertificateKey,
) -> Result<BTreeMap<String, Vec<u8>>, CertsError> {
    plain
        .iter()
        .map(|(name, data)| {
            let value = if data.is_empty() {
                Vec::new()
            } else {
                encrypt(data, certificate_key)?
            };
            Ok((name.clone(), value))
        })
        .collect()
}

/// The Secret's data decrypted, as kubeadm's `getDataFromSecret` does (empty stays empty).
pub fn decrypt_all(
    data: &BTreeMap<String, Vec<u8>>,
    certificate_key: &CertificateKey,
) -> Result<BTreeMap<String, Vec<u8>>, CertsError> {
    data.iter()
        .map(|(name, value)| {
            let plain = if value.is_empty() {
                Vec::new()
            } else {
                decrypt(value, certificate_key).ok_or_else(|| CertsError::Decrypt(name.clone()))?
            };
            Ok((name.clone(), plain))
        })
        .collect()
}

/// Whether a Secret holding `existing` already carries exactly `plain` under this key: same
/// entries, each decrypting to the same bytes. Encryption is randomised, so this, not a byte
/// compare, is what keeps a second run from rewriting the Secret.
pub fn up_to_date(
    existing: &BTreeMap<String, Vec<u8>>,
    plain: &BTreeMap<String, Vec<u8>>,
    certificate_key: &CertificateKey,
) -> bool {
    decrypt_all(existing, certificate_key).is_ok_and(|decrypted| &decrypted == plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> CertificateKey {
        CertificateKey::parse(&format!("{byte:02x}").repeat(32)).unwrap()
    }

    #[test]
    fn kubeadms_key_names() {
        let names: Vec<String> = FILES.iter().map(|(f, _)| secret_key(f)).collect();
        assert_eq!(
            names,
            [
                "ca.crt",
                "ca.key",
                "front-proxy-ca.crt",
                "front-proxy-ca.key",
                "etcd-ca.crt",
                "etcd-ca.key",
                "sa.key",
                "sa.pub"
            ]
        );
    }

    /// The layout of Go's `gcm.Seal(nonce, nonce, data, nil)`: the nonce, then the ciphertext
    /// (as long as the data), then the 16-byte tag.
    #[test]
    fn nonce_first_then_ciphertext_and_tag() {
        let nonce = [7u8; NONCE_LEN];
        let sealed = encrypt_with_nonce(b"hello", &key(1), nonce);
        assert_eq!(sealed.len(), NONCE_LEN + 5 + 16);
        assert_eq!(sealed[..NONCE_LEN], nonce);
        assert_eq!(decrypt(&sealed, &key(1)).unwrap(), b"hello");
        assert_eq!(decrypt(&sealed, &key(2)), None);
        assert_eq!(decrypt(&sealed[..NONCE_LEN - 1], &key(1)), None);
        let mut altered = sealed.clone();
        altered[NONCE_LEN] ^= 1;
        assert_eq!(decrypt(&altered, &key(1)), None);
    }

    /// NIST's AES-256-GCM test case 14 (all-zero key, nonce and block; McGrew & Viega): Go's
    /// `crypto/cipher` gives the same bytes.
    #[test]
    fn a_known_answer() {
        let sealed = encrypt_with_nonce(&[0u8; 16], &key(0), [0u8; NONCE_LEN]);
        let hex: String = sealed[NONCE_LEN..]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919"
        );
    }

    #[test]
    fn randomised_but_up_to_date() {
        let plain: BTreeMap<String, Vec<u8>> = [
            ("ca.crt".to_owned(), b"CA".to_vec()),
            ("etcd-ca.crt".to_owned(), Vec::new()),
        ]
        .into();
        let a = encrypt_all(&plain, &key(3)).unwrap();
        let b = encrypt_all(&plain, &key(3)).unwrap();
        assert_ne!(a["ca.crt"], b["ca.crt"], "a fresh nonce each time");
        assert!(a["etcd-ca.crt"].is_empty());
        assert!(up_to_date(&a, &plain, &key(3)));
        assert!(!up_to_date(&a, &plain, &key(4)), "another key");
        let mut changed = plain.clone();
        changed.insert("ca.crt".into(), b"CA2".to_vec());
        assert!(!up_to_date(&a, &changed, &key(3)), "another file");
        let mut more = plain.clone();
        more.insert("sa.key".into(), b"K".to_vec());
        assert!(!up_to_date(&a, &more, &key(3)), "a missing entry");
        let mut extra = a.clone();
        extra.insert("other".into(), Vec::new());
        assert!(!up_to_date(&extra, &plain, &key(3)), "an extra entry");
    }

    #[test]
    fn reads_the_files_and_leaves_a_missing_etcd_ca_empty() {
        let dir = std::env::temp_dir().join(format!("plinth-certs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (file, optional) in FILES {
            if !optional {
                std::fs::write(dir.join(file), file).unwrap();
            }
        }
        let plain = read_files(&dir).unwrap();
        assert_eq!(plain["ca.key"], b"ca.key");
        assert!(plain["etcd-ca.key"].is_empty());
        std::fs::remove_file(dir.join("sa.pub")).unwrap();
        assert!(matches!(read_files(&dir), Err(CertsError::Read { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
