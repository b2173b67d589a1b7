//! Reading an existing certificate into the facts the checks compare with the plan: subject,
//! names, CA flag, validity, extended usages, public key, and whether a given CA signed it. Reads
//! only; decides nothing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;

use super::plan::{San, Subject};

/// What a certificate says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertInfo {
    /// The DER of the (first) certificate.
    pub der: Vec<u8>,
    /// Its subject (the first CN, every O).
    pub subject: Subject,
    /// Its DNS and IP subject alternative names.
    pub sans: Vec<San>,
    /// Whether it is a CA (basic constraints `CA:TRUE`).
    pub is_ca: bool,
    /// Validity start, Unix seconds.
    pub not_before: i64,
    /// Validity end, Unix seconds.
    pub not_after: i64,
    /// Extended key usage `serverAuth`.
    pub server_auth: bool,
    /// Extended key usage `clientAuth`.
    pub client_auth: bool,
    /// The public key's bits (compared with a private key's public half).
    pub public_key: Vec<u8>,
}

/// Why a text is not a readable certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    /// No PEM `CERTIFICATE` block.
    #[error("no PEM certificate")]
    NotPem,
    /// The DER does not parse as X.509.
    #[error("not a readable X.509 certificate")]
    Unreadable,
}

impl CertInfo {
    /// Reads the first `CERTIFICATE` block of a PEM text (a bundle's first certificate).
    pub fn from_pem(text: &[u8]) -> Result<Self, CertError> {
        let blocks = pem::parse_many(text).map_err(|_| CertError::NotPem)?;
        let block = blocks
            .into_iter()
            .find(|b| b.tag() == "CERTIFICATE")
            .ok_or(CertError::NotPem)?;
        Self::from_der(block.contents())
    }

    /// Reads one DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, CertError> {
        let (_, cert) = X509Certificate::from_der(der).map_err(|_| CertError::Unreadable)?;
        let text = |attr: &x509_parser::x509::AttributeTypeAndValue<'_>| {
            attr.as_str().map(str::to_owned).ok()
        };
        let subject = cert.subject();
        let common_name = subject
            .iter_common_name()
            .next()
            .and_then(text)
            .unwrap_or_default();
        let organizations = subject.iter_organization().filter_map(text).collect();
        let mut sans = Vec::new();
        if let Ok(Some(ext)) = cert.subject_alternative_name() {
            for name in &ext.value.general_names {
                match name {
                    GeneralName::DNSName(dns) => sans.push(San::Dns((*dns).to_owned())),
                    GeneralName::IPAddress(bytes) => {
                        if let Some(ip) = ip_of(bytes) {
                            sans.push(San::Ip(ip));
                        }
                    }
                    _ => {}
                }
            }
        }
        let (server_auth, client_auth) = match cert.extended_key_usage() {
            Ok(Some(eku)) => (eku.value.server_auth, eku.value.client_auth),
            _ => (false, false),
        };
        Ok(Self {
            der: der.to_vec(),
            subject: Subject {
                common_name,
                organizations,
            },
            sans,
            is_ca: cert.is_ca(),
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            server_auth,
            client_auth,
            public_key: cert.public_key().subject_public_key.data.to_vec(),
        })
    }

    /// Whether `ca`'s key made this certificate's signature, and `ca` is named as its issuer.
    pub fn signed_by(&self, ca: &CertInfo) -> bool {
        let (Ok((_, cert)), Ok((_, issuer))) = (
            X509Certificate::from_der(&self.der),
            X509Certificate::from_der(&ca.der),
        ) else {
            return false;
        };
        cert.issuer().as_raw() == issuer.subject().as_raw()
            && cert.verify_signature(Some(issuer.public_key())).is_ok()
    }
}

/// An IPv4 or IPv6 address from its 4 or 16 bytes.
fn ip_of(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes)
            .ok()
            .map(|b| IpAddr::V4(Ipv4Addr::from(b))),
        16 => <[u8; 16]>::try_from(bytes)
            .ok()
            .map(|b| IpAddr::V6(Ipv6Addr::from(b))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_four_or_sixteen_bytes() {
        assert_eq!(
            ip_of(&[10, 0, 0, 1]),
            Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)))
        );
        assert_eq!(ip_of(&[0; 16]), Some(IpAddr::V6(Ipv6Addr::UNSPECIFIED)));
        assert_eq!(ip_of(&[1, 2, 3]), None);
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        assert_eq!(CertInfo::from_pem(b"nope"), Err(CertError::NotPem));
        let bad = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert_eq!(CertInfo::from_pem(bad), Err(CertError::Unreadable));
    }
}
