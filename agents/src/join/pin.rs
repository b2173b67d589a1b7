//! The cluster CA's public key pin, as kubeadm's `--discovery-token-ca-cert-hash` gives it:
//! `sha256:` and the hex SHA-256 of the CA certificate's DER SubjectPublicKeyInfo (kubeadm
//! `util/pubkeypin`), the same as
//! `openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | sha256sum`. Pure.
//!
//! A pin is public (it names a public key), so it may be printed and put in messages.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

/// The prefix of the only pin format kubeadm knows.
const PREFIX: &str = "sha256:";

/// Why a pin or a certificate was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    #[error(
        "expected a CA pin `sha256:<64 hex digits>` (as `kubeadm token create \
         --print-join-command` prints it), got {0:?}"
    )]
    Format(String),
    #[error("no PEM certificate")]
    NotPem,
    #[error("not a readable X.509 certificate")]
    Unreadable,
}

/// A CA pin: the SHA-256 of a SubjectPublicKeyInfo.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CaPin([u8; 32]);

impl CaPin {
    /// Parses `sha256:<64 hex digits>`; the prefix and the digits in either case, surrounding
    /// whitespace ignored.
    pub fn parse(text: &str) -> Result<Self, PinError> {
        let trimmed = text.trim();
        let refuse = || PinError::Format(trimmed.to_owned());
        let hex = trimmed
            .get(..PREFIX.len())
            .filter(|prefix| prefix.eq_ignore_ascii_case(PREFIX))
            .map(|_| &trimmed[PREFIX.len()..])
            .ok_or_else(refuse)?;
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(refuse());
        }
        let mut digest = [0u8; 32];
        for (byte, pair) in digest.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
            let pair = std::str::from_utf8(pair).map_err(|_| refuse())?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| refuse())?;
        }
        Ok(Self(digest))
    }

    /// The pin of a DER certificate.
    pub fn of_der(der: &[u8]) -> Result<Self, PinError> {
        let (_, cert) = X509Certificate::from_der(der).map_err(|_| PinError::Unreadable)?;
        Ok(Self(Sha256::digest(cert.public_key().raw).into()))
    }

    /// The pin of a certificate, PEM (its first `CERTIFICATE` block) or DER.
    pub fn of_certificate(cert: &[u8]) -> Result<Self, PinError> {
        // DER is a SEQUENCE (0x30); PEM text starts otherwise.
        if cert.first() == Some(&0x30) {
            return Self::of_der(cert);
        }
        let blocks = pem::parse_many(cert).map_err(|_| PinError::NotPem)?;
        let block = blocks
            .iter()
            .find(|b| b.tag() == "CERTIFICATE")
            .ok_or(PinError::NotPem)?;
        Self::of_der(block.contents())
    }

    /// Whether the DER certificate `ca_der`'s public key is the pinned one (false when it does
    /// not parse).
    pub fn matches(&self, ca_der: &[u8]) -> bool {
        Self::of_der(ca_der).is_ok_and(|pin| pin == *self)
    }

    /// The digest.
    pub fn digest(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for CaPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(PREFIX)?;
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for CaPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CaPin({self})")
    }
}

impl FromStr for CaPin {
    type Err = PinError;

    fn from_str(text: &str) -> Result<Self, PinError> {
        Self::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::{issue::Authority, keys};
    use std::io::Write as _;
    use std::process::{Command, Stdio};

    fn ca(name: &str) -> Authority {
        Authority::create(name, keys::generate().unwrap(), 1_750_000_000).unwrap()
    }

    fn der(pem_text: &str) -> Vec<u8> {
        pem::parse(pem_text).unwrap().into_contents()
    }

    #[test]
    fn parses_and_prints_kubeadms_format() {
        let hex = "0123456789abcdef".repeat(4);
        let pin = CaPin::parse(&format!("sha256:{hex}")).unwrap();
        assert_eq!(pin.to_string(), format!("sha256:{hex}"));
        assert_eq!(pin.digest()[..2], [0x01, 0x23]);
        let upper = CaPin::parse(&format!(" SHA256:{}\n", hex.to_uppercase())).unwrap();
        assert_eq!(upper, pin, "either case");
        assert_eq!(format!("{pin:?}"), format!("CaPin(sha256:{hex})"));
        assert_eq!(
            hex.parse::<CaPin>().unwrap_err(),
            PinError::Format(hex.clone())
        );
        for bad in [
            String::new(),
            "sha256:".into(),
            format!("sha256:{}", &hex[1..]),
            format!("sha256:{hex}0"),
            format!("sha256:{}g", &hex[1..]),
            format!("sha1:{hex}"),
            format!("sha256:{}é", &hex[2..]),
        ] {
            assert!(
                matches!(CaPin::parse(&bad), Err(PinError::Format(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_pin_is_of_the_public_key() {
        let a = ca("kubernetes");
        let pin = CaPin::of_certificate(a.cert_pem.as_bytes()).unwrap();
        let a_der = der(&a.cert_pem);
        assert_eq!(CaPin::of_certificate(&a_der).unwrap(), pin, "DER too");
        assert_eq!(CaPin::of_der(&a_der).unwrap(), pin);
        assert!(pin.matches(&a_der));
        assert!(
            !pin.matches(&der(&ca("kubernetes").cert_pem)),
            "another key"
        );
        assert!(!pin.matches(b"not a certificate"));
        assert_eq!(
            CaPin::of_certificate(b"hello").unwrap_err(),
            PinError::NotPem
        );
        assert_eq!(
            CaPin::of_der(b"0\x03abc").unwrap_err(),
            PinError::Unreadable
        );
    }

    /// The pin kubeadm documents how to compute with openssl, for a CA the project's PKI code
    /// makes.
    #[test]
    fn equals_opensslss_pin() {
        let a = ca("kubernetes");
        let pubkey = openssl(&["x509", "-pubkey", "-noout"], a.cert_pem.as_bytes());
        let spki = openssl(&["pkey", "-pubin", "-outform", "der"], &pubkey);
        let hex: String = Sha256::digest(&spki)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let pin = CaPin::of_certificate(a.cert_pem.as_bytes()).unwrap();
        assert_eq!(pin.to_string(), format!("sha256:{hex}"));
    }

    fn openssl(args: &[&str], input: &[u8]) -> Vec<u8> {
        let mut child = Command::new("openssl")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("openssl is needed for this test (apt-get install openssl)");
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "openssl {args:?}: {}", out.status);
        out.stdout
    }
}
