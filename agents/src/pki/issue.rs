//! Making certificates with rcgen, as kubeadm makes them: self-signed CAs (10 years, key usages
//! digitalSignature, keyEncipherment, keyCertSign; `CA:TRUE`) and leaves signed by a CA (1 year,
//! never past their CA; digitalSignature and keyEncipherment; serverAuth and/or clientAuth; the
//! CA's key identifier as authority key identifier). Every certificate starts
//! [`BACKDATE_SECONDS`] in the past and has a random serial. Keys in, PEM out: no files.

use std::io::Read;
use std::net::IpAddr;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use time::OffsetDateTime;

use super::inspect::CertInfo;
use super::keys;
use super::plan::{BACKDATE_SECONDS, CA_VALIDITY_DAYS, LEAF_VALIDITY_DAYS, San, Subject, Usage};

const DAY: i64 = 24 * 60 * 60;

/// Why a certificate could not be made.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// rcgen refused (a name it cannot encode, a key it cannot sign with).
    #[error("{what}: {source}")]
    Rcgen {
        /// What was being made.
        what: String,
        /// rcgen's reason.
        #[source]
        source: rcgen::Error,
    },
    /// No randomness for the serial number.
    #[error("reading /dev/urandom for a serial number: {0}")]
    Random(#[source] std::io::Error),
    /// A CA certificate that is not one, or not for its key.
    #[error("{0}")]
    Ca(String),
}

fn rcgen_error(what: &str) -> impl FnOnce(rcgen::Error) -> IssueError + '_ {
    move |source| IssueError::Rcgen {
        what: what.to_owned(),
        source,
    }
}

/// A CA that can sign: its certificate (PEM, as on disk), what it says, and its key.
pub struct Authority {
    /// The certificate, PEM (for kubeconfigs' `certificate-authority-data`).
    pub cert_pem: String,
    /// What the certificate says.
    pub info: CertInfo,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("Authority")
            .field("subject", &self.info.subject)
            .finish_non_exhaustive()
    }
}

impl Authority {
    /// The CA of an existing certificate and its key: the certificate must be a CA and be the
    /// key's.
    pub fn load(cert_pem: &str, key: KeyPair) -> Result<Self, IssueError> {
        let info = CertInfo::from_pem(cert_pem.as_bytes())
            .map_err(|e| IssueError::Ca(format!("the CA certificate: {e}")))?;
        if !info.is_ca {
            return Err(IssueError::Ca(
                "the certificate is not a CA (no basic constraints CA:TRUE)".into(),
            ));
        }
        if info.public_key != keys::public_key_bits(&key) {
            return Err(IssueError::Ca(
                "the private key is not the CA certificate's key".into(),
            ));
        }
        let first = pem::encode(&pem::Pem::new("CERTIFICATE", info.der.clone()));
        let issuer =
            Issuer::from_ca_cert_pem(&first, key).map_err(rcgen_error("reading the CA"))?;
        Ok(Self {
            cert_pem: cert_pem.to_owned(),
            info,
            issuer,
        })
    }

    /// A new self-signed CA named `common_name` for `key`, valid from `now` for ten years.
    pub fn create(common_name: &str, key: KeyPair, now: i64) -> Result<Self, IssueError> {
        let mut params = CertificateParams::default();
        params.distinguished_name = name(&Subject {
            common_name: common_name.to_owned(),
            organizations: Vec::new(),
        });
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
            KeyUsagePurpose::KeyCertSign,
        ];
        params.not_before = time_of(now - BACKDATE_SECONDS)?;
        params.not_after = time_of(now + CA_VALIDITY_DAYS * DAY)?;
        params.serial_number = Some(random_serial()?);
        let cert = params.self_signed(&key).map_err(rcgen_error(common_name))?;
        Self::load(&cert.pem(), key)
    }

    /// A leaf for `key` with `subject`, `sans` and `usage`, valid from `now` for a year (or until
    /// this CA expires, when sooner). PEM.
    pub fn issue(
        &self,
        subject: &Subject,
        sans: &[San],
        usage: Usage,
        key: &KeyPair,
        now: i64,
    ) -> Result<String, IssueError> {
        let what = &subject.common_name;
        let mut params = CertificateParams::default();
        params.distinguished_name = name(subject);
        params.subject_alt_names = sans
            .iter()
            .map(|san| san_type(san).map_err(rcgen_error(what)))
            .collect::<Result<_, _>>()?;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        if usage.server() {
            params
                .extended_key_usages
                .push(ExtendedKeyUsagePurpose::ServerAuth);
        }
        if usage.client() {
            params
                .extended_key_usages
                .push(ExtendedKeyUsagePurpose::ClientAuth);
        }
        params.use_authority_key_identifier_extension = true;
        params.not_before = time_of(now - BACKDATE_SECONDS)?;
        params.not_after = time_of((now + LEAF_VALIDITY_DAYS * DAY).min(self.info.not_after))?;
        params.serial_number = Some(random_serial()?);
        let cert = params
            .signed_by(key, &self.issuer)
            .map_err(rcgen_error(what))?;
        Ok(cert.pem())
    }
}

/// One CN and the organizations, in that order.
fn name(subject: &Subject) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    // rcgen keeps one value per attribute type: every planned subject has at most one O.
    if let Some(org) = subject.organizations.first() {
        dn.push(DnType::OrganizationName, org.as_str());
    }
    dn.push(DnType::CommonName, subject.common_name.as_str());
    dn
}

fn san_type(san: &San) -> Result<SanType, rcgen::Error> {
    Ok(match san {
        San::Dns(dns) => SanType::DnsName(dns.clone().try_into()?),
        San::Ip(ip) => SanType::IpAddress(IpAddr::clone(ip)),
    })
}

fn time_of(unix: i64) -> Result<OffsetDateTime, IssueError> {
    OffsetDateTime::from_unix_timestamp(unix)
        .map_err(|e| IssueError::Ca(format!("time {unix} out of range: {e}")))
}

/// 16 random bytes, the top bit clear and the next set: a positive 16-byte serial (126 random
/// bits), unique without any state.
fn random_serial() -> Result<SerialNumber, IssueError> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(IssueError::Random)?;
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(SerialNumber::from_slice(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn ca() -> Authority {
        Authority::create("kubernetes", keys::generate().unwrap(), NOW).unwrap()
    }

    #[test]
    fn a_new_ca_is_a_ten_year_ca_named_as_asked() {
        let ca = ca();
        assert!(ca.info.is_ca);
        assert_eq!(ca.info.subject.common_name, "kubernetes");
        assert_eq!(ca.info.not_before, NOW - BACKDATE_SECONDS);
        assert_eq!(ca.info.not_after, NOW + CA_VALIDITY_DAYS * DAY);
        assert!(ca.info.signed_by(&ca.info), "self-signed");
    }

    #[test]
    fn a_leaf_has_its_subject_names_usage_and_a_year_and_verifies_against_its_ca() {
        let ca = ca();
        let key = keys::generate().unwrap();
        let subject = Subject {
            common_name: "system:node:cp-1".into(),
            organizations: vec!["system:nodes".into()],
        };
        let sans = vec![
            San::Dns("cp-1".into()),
            San::Ip("10.0.0.10".parse().unwrap()),
            San::Ip("fd00::10".parse().unwrap()),
        ];
        let pem = ca
            .issue(&subject, &sans, Usage::ServerAndClient, &key, NOW)
            .unwrap();
        let info = CertInfo::from_pem(pem.as_bytes()).unwrap();
        assert_eq!(info.subject, subject);
        assert_eq!(info.sans, sans);
        assert!(!info.is_ca);
        assert!(info.server_auth && info.client_auth);
        assert_eq!(info.not_after, NOW + LEAF_VALIDITY_DAYS * DAY);
        assert_eq!(info.public_key, keys::public_key_bits(&key));
        assert!(info.signed_by(&ca.info));
        assert!(
            !info.signed_by(&self::ca().info),
            "another CA did not sign it"
        );
    }

    #[test]
    fn a_leaf_never_outlives_its_ca() {
        let ca = Authority::create(
            "short",
            keys::generate().unwrap(),
            NOW - (CA_VALIDITY_DAYS - 10) * DAY,
        )
        .unwrap();
        let key = keys::generate().unwrap();
        let subject = Subject {
            common_name: "c".into(),
            organizations: vec![],
        };
        let pem = ca.issue(&subject, &[], Usage::Client, &key, NOW).unwrap();
        let info = CertInfo::from_pem(pem.as_bytes()).unwrap();
        assert_eq!(info.not_after, ca.info.not_after);
        assert!(info.client_auth && !info.server_auth);
    }

    #[test]
    fn a_ca_must_be_a_ca_and_the_keys() {
        let ca = ca();
        let other = keys::generate().unwrap();
        let err = Authority::load(&ca.cert_pem, other).unwrap_err();
        assert!(
            err.to_string().contains("not the CA certificate's key"),
            "{err}"
        );
        let key = keys::generate().unwrap();
        let subject = Subject {
            common_name: "leaf".into(),
            organizations: vec![],
        };
        let leaf = ca.issue(&subject, &[], Usage::Client, &key, NOW).unwrap();
        let err = Authority::load(&leaf, key).unwrap_err();
        assert!(err.to_string().contains("not a CA"), "{err}");
    }

    #[test]
    fn serials_differ() {
        assert_ne!(random_serial().unwrap(), random_serial().unwrap());
    }
}
