//! The cluster's two join secrets as the command line gets them: the kubeadm bootstrap token
//! `<id>.<secret>` (`[a-z0-9]{6}.[a-z0-9]{16}`, cluster-bootstrap's `token/api` format) and the
//! 64-hex-digit certificate key that the control planes' shared PKI is encrypted with in
//! `kube-system/kubeadm-certs`. Pure parsing; neither secret is ever printed (`Debug` hides it).

use plinth_config::validate::join::{is_bootstrap_token, is_certificate_key};
use std::fmt;
use std::path::Path;

/// Why a secret was refused. The messages never contain the secret.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error(
        "expected a bootstrap token `abcdef.0123456789abcdef` ([a-z0-9]{{6}}.[a-z0-9]{{16}}); \
         the value is a secret and not shown"
    )]
    Token,
    #[error(
        "expected a certificate key of 64 hex digits (as `kubeadm certs certificate-key` \
         prints); the value is a secret and not shown"
    )]
    CertificateKey,
    #[error("reading {path}: {error}")]
    Read { path: String, error: String },
}

/// A kubeadm bootstrap token.
#[derive(Clone, PartialEq, Eq)]
pub struct BootstrapToken {
    id: String,
    secret: String,
}

impl fmt::Debug for BootstrapToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BootstrapToken({}.<secret>)", self.id)
    }
}

impl BootstrapToken {
    /// Parses `<id>.<secret>`; surrounding whitespace (a file's newline) is ignored.
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        // The shape is the config's own rule, so a token the config accepts is one this takes.
        let text = text.trim();
        if !is_bootstrap_token(text) {
            return Err(SecretError::Token);
        }
        let (id, secret) = text.split_once('.').ok_or(SecretError::Token)?;
        Ok(Self {
            id: id.to_owned(),
            secret: secret.to_owned(),
        })
    }

    /// Reads and parses a file holding the token.
    pub fn read(path: &Path) -> Result<Self, SecretError> {
        Self::parse(&read(path)?)
    }

    /// The public half: the `token-id`, `system:bootstrap:<id>`, the JWS's `kid`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The secret half: the `token-secret`, the JWS's HMAC key.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// `kube-system/bootstrap-token-<id>`'s name.
    pub fn secret_name(&self) -> String {
        format!("bootstrap-token-{}", self.id)
    }

    /// The `kube-public/cluster-info` key the bootstrapsigner writes for this token.
    pub fn jws_key(&self) -> String {
        format!("jws-kubeconfig-{}", self.id)
    }
}

/// The AES-256 key of `kubeadm-certs` (kubeadm's `--certificate-key`).
#[derive(Clone, PartialEq, Eq)]
pub struct CertificateKey([u8; 32]);

impl fmt::Debug for CertificateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CertificateKey(<secret>)")
    }
}

impl CertificateKey {
    /// Parses 64 hex digits (either case); surrounding whitespace is ignored.
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let text = text.trim();
        if !is_certificate_key(text) {
            return Err(SecretError::CertificateKey);
        }
        let text = text.as_bytes();
        let mut key = [0u8; 32];
        for (byte, pair) in key.iter_mut().zip(text.chunks_exact(2)) {
            let digit = |c: u8| (c as char).to_digit(16).ok_or(SecretError::CertificateKey);
            *byte = u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?)
                .map_err(|_| SecretError::CertificateKey)?;
        }
        Ok(Self(key))
    }

    /// Reads and parses a file holding the key.
    pub fn read(path: &Path) -> Result<Self, SecretError> {
        Self::parse(&read(path)?)
    }

    /// The 32 key bytes.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

fn read(path: &Path) -> Result<String, SecretError> {
    std::fs::read_to_string(path).map_err(|e| SecretError::Read {
        path: path.display().to_string(),
        error: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        let token = BootstrapToken::parse("abcdef.0123456789abcdef\n").unwrap();
        assert_eq!(token.id(), "abcdef");
        assert_eq!(token.secret(), "0123456789abcdef");
        assert_eq!(token.secret_name(), "bootstrap-token-abcdef");
        assert_eq!(token.jws_key(), "jws-kubeconfig-abcdef");
        for bad in [
            "",
            "abcdef",
            "abcdef.",
            "ABCDEF.0123456789abcdef",
            "abcde.0123456789abcdef",
            "abcdef.0123456789abcdeff",
            "abcdef.0123456789abcde_",
            "abcdef:0123456789abcdef",
            "abc.def.0123456789abcdef",
        ] {
            assert_eq!(
                BootstrapToken::parse(bad),
                Err(SecretError::Token),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_secret_is_never_shown() {
        let token = BootstrapToken::parse("abcdef.0123456789abcdef").unwrap();
        assert_eq!(format!("{token:?}"), "BootstrapToken(abcdef.<secret>)");
        let message = BootstrapToken::parse("abcdef.9876543210ZYXWVU")
            .unwrap_err()
            .to_string();
        assert!(!message.contains("9876543210"), "{message}");
        let key = CertificateKey::parse(&"ab".repeat(32)).unwrap();
        assert_eq!(format!("{key:?}"), "CertificateKey(<secret>)");
    }

    #[test]
    fn certificate_keys() {
        let text = "000102030405060708090a0b0c0d0e0f101112131415161718191A1B1C1D1E1F\n";
        let key = CertificateKey::parse(text).unwrap();
        let want: Vec<u8> = (0u8..32).collect();
        assert_eq!(key.bytes().as_slice(), want.as_slice());
        for bad in [
            "",
            &"0".repeat(63),
            &"0".repeat(66),
            &format!("{}g", "0".repeat(63)),
        ] {
            assert_eq!(
                CertificateKey::parse(bad),
                Err(SecretError::CertificateKey),
                "{bad:?}"
            );
        }
    }
}
