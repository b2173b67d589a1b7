//! Private keys: making new ones — ECDSA P-256, the only kind made here (kubeadm's
//! `encryptionAlgorithm: ECDSA-P256`; every Kubernetes component and etcd read it) — and reading
//! PEM keys of the three forms kubeadm, openssl and operators write: PKCS#8 `PRIVATE KEY`, PKCS#1
//! `RSA PRIVATE KEY` and SEC1 `EC PRIVATE KEY`. ring reads PKCS#8 only, so the other two are
//! wrapped into PKCS#8 in memory; the file on disk is never rewritten.

use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256, PublicKeyData};

/// Why a PEM text is not a usable private key. Never holds any of the key's bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// No PEM block at all.
    #[error("no PEM private key")]
    NotPem,
    /// A password-protected key: nothing here can ask for the password.
    #[error("the private key is encrypted; give it unencrypted (`openssl pkey -in KEY -out NEW`)")]
    Encrypted,
    /// Another kind of PEM block (a certificate where a key should be).
    #[error("a PEM `{0}` block where a private key should be")]
    Label(String),
    /// The DER does not hold a key ring can sign with (ECDSA P-256/P-384, RSA 2048–8192, Ed25519).
    #[error(
        "the private key cannot be read (only ECDSA P-256/P-384, RSA and Ed25519 keys can be used)"
    )]
    Unreadable,
}

/// A new ECDSA P-256 key.
pub fn generate() -> Result<KeyPair, rcgen::Error> {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
}

/// Reads the first PEM private key of `text`.
pub fn parse(text: &str) -> Result<KeyPair, KeyError> {
    let blocks = pem::parse_many(text).map_err(|_| KeyError::NotPem)?;
    let block = blocks
        .into_iter()
        .find(|b| b.tag().ends_with("PRIVATE KEY"))
        .ok_or(KeyError::NotPem)?;
    let der = block.contents();
    let pkcs8 = match block.tag() {
        "PRIVATE KEY" => der.to_vec(),
        "RSA PRIVATE KEY" => pkcs8_of_pkcs1(der),
        "EC PRIVATE KEY" => pkcs8_of_sec1(der).ok_or(KeyError::Unreadable)?,
        "ENCRYPTED PRIVATE KEY" => return Err(KeyError::Encrypted),
        other => return Err(KeyError::Label(other.to_owned())),
    };
    KeyPair::try_from(pkcs8.as_slice()).map_err(|_| KeyError::Unreadable)
}

/// The public key itself (the bits of a certificate's SubjectPublicKeyInfo), to compare a key with
/// a certificate.
pub fn public_key_bits(key: &KeyPair) -> &[u8] {
    key.der_bytes()
}

/// `rsaEncryption` (1.2.840.113549.1.1.1), DER.
const OID_RSA_ENCRYPTION: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
];
/// `id-ecPublicKey` (1.2.840.10045.2.1), DER.
const OID_EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const DER_NULL: &[u8] = &[0x05, 0x00];

/// PKCS#8 `PrivateKeyInfo { version 0, rsaEncryption NULL, OCTET STRING pkcs1 }`.
fn pkcs8_of_pkcs1(pkcs1: &[u8]) -> Vec<u8> {
    pkcs8(&[OID_RSA_ENCRYPTION, DER_NULL].concat(), pkcs1)
}

/// PKCS#8 of a SEC1 `ECPrivateKey`, whose `[0] parameters` name the curve (openssl always writes
/// them); `None` when they are missing.
fn pkcs8_of_sec1(sec1: &[u8]) -> Option<Vec<u8>> {
    let (tag, body, _) = tlv(sec1)?;
    if tag != 0x30 {
        return None;
    }
    let mut rest = body;
    while !rest.is_empty() {
        let (tag, value, next) = tlv(rest)?;
        if tag == 0xa0 {
            // The curve's OID, as a whole TLV.
            let (oid_tag, _, after) = tlv(value)?;
            if oid_tag != 0x06 || !after.is_empty() {
                return None;
            }
            return Some(pkcs8(&[OID_EC_PUBLIC_KEY, value].concat(), sec1));
        }
        rest = next;
    }
    None
}

/// `SEQUENCE { INTEGER 0, SEQUENCE { algorithm }, OCTET STRING key }`.
fn pkcs8(algorithm: &[u8], key: &[u8]) -> Vec<u8> {
    let body = [
        &[0x02, 0x01, 0x00][..],
        &encode(0x30, algorithm),
        &encode(0x04, key),
    ]
    .concat();
    encode(0x30, &body)
}

/// One DER TLV with a definite length.
fn encode(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = value.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(value);
    out
}

/// Splits the first DER TLV (single-byte tags only) off `der`: `(tag, value, rest)`.
fn tlv(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > std::mem::size_of::<usize>() || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_keys_are_p256_and_read_back_from_their_pem() {
        let key = generate().unwrap();
        assert_eq!(key.algorithm(), &PKCS_ECDSA_P256_SHA256);
        let pem = key.serialize_pem();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "PKCS#8");
        let back = parse(&pem).unwrap();
        assert_eq!(public_key_bits(&back), public_key_bits(&key));
    }

    #[test]
    fn der_lengths_round_trip_short_and_long() {
        for len in [0usize, 1, 127, 128, 255, 256, 70_000] {
            let value = vec![7u8; len];
            let der = encode(0x04, &value);
            let (tag, got, rest) = tlv(&der).unwrap();
            assert_eq!((tag, got.len(), rest.len()), (0x04, len, 0));
        }
        assert!(tlv(&[0x30, 0x05, 1, 2]).is_none(), "short value");
        assert!(tlv(&[0x30, 0x80]).is_none(), "indefinite length");
    }

    #[test]
    fn other_pem_blocks_and_garbage_are_refused_without_echoing_them() {
        assert_eq!(parse("hello").unwrap_err(), KeyError::NotPem);
        let cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert_eq!(parse(cert).unwrap_err(), KeyError::NotPem);
        let enc =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        assert_eq!(parse(enc).unwrap_err(), KeyError::Encrypted);
        let junk = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert_eq!(parse(junk).unwrap_err(), KeyError::Unreadable);
    }
}
