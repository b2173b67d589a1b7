//! The detached JWS that kube-controller-manager's bootstrapsigner writes into
//! `kube-public/cluster-info` as `jws-kubeconfig-<token id>`, and that a joiner checks before it
//! trusts the CA the kubeconfig names (cluster-bootstrap `token/jws`, RFC 7515 appendix F).
//!
//! The signature is HS256 over `<b64(header)>.<b64(kubeconfig)>`, the header exactly
//! `{"alg":"HS256","kid":"<token id>"}` (go-jose's bytes: its keys sorted, no spaces), base64url
//! without padding, the key the token secret zero-padded to 32 bytes (go-jose's minimum for HS256;
//! HMAC pads a short key with zeros anyway). The value stored is `<b64(header)>..<b64(sig)>`, the
//! payload left out. Go's verifier recomputes the value and compares the strings, and so does
//! [`verify`]: a JWS that only decodes to the same signature (other header bytes) is refused, as
//! there.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// go-jose's minimum HS256 key length; cluster-bootstrap zero-pads a shorter token secret to it.
const MIN_KEY: usize = 32;

/// The protected header cluster-bootstrap's signer produces for token `id`.
fn header(id: &str) -> String {
    format!(r#"{{"alg":"HS256","kid":"{id}"}}"#)
}

/// The detached JWS of `content` signed with the token `id`.`secret`:
/// `<b64(header)>..<b64(signature)>`.
pub fn compute_detached(content: &str, id: &str, secret: &str) -> String {
    let mut key = secret.as_bytes().to_vec();
    if key.len() < MIN_KEY {
        key.resize(MIN_KEY, 0);
    }
    let protected = URL_SAFE_NO_PAD.encode(header(id));
    let payload = URL_SAFE_NO_PAD.encode(content);
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes a key of any length");
    mac.update(protected.as_bytes());
    mac.update(b".");
    mac.update(payload.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{protected}..{signature}")
}

/// Whether `detached` is the JWS of `content` with the token `id`.`secret`, compared as strings
/// with cluster-bootstrap's own output (in constant time).
pub fn verify(detached: &str, content: &str, id: &str, secret: &str) -> bool {
    let expected = compute_detached(content, id, secret);
    let (a, b) = (expected.as_bytes(), detached.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTENT: &str = "apiVersion: v1\nkind: Config\n";

    #[test]
    fn the_header_is_go_joses() {
        let jws = compute_detached(CONTENT, "abcdef", "0123456789abcdef");
        let (protected, signature) = jws.split_once("..").unwrap();
        assert_eq!(
            URL_SAFE_NO_PAD.decode(protected).unwrap(),
            br#"{"alg":"HS256","kid":"abcdef"}"#
        );
        // SHA-256: 32 bytes, 43 base64url characters without padding.
        assert_eq!(signature.len(), 43);
        assert!(!jws.contains('='));
    }

    /// Recomputed with an independent HMAC (ring's) over the same signing input.
    #[test]
    fn the_signature_is_hs256_over_the_signing_input() {
        let jws = compute_detached(CONTENT, "abcdef", "0123456789abcdef");
        let (protected, signature) = jws.split_once("..").unwrap();
        let input = format!("{protected}.{}", URL_SAFE_NO_PAD.encode(CONTENT));
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"0123456789abcdef");
        let tag = ring::hmac::sign(&key, input.as_bytes());
        assert_eq!(signature, URL_SAFE_NO_PAD.encode(tag.as_ref()));
    }

    #[test]
    fn verification_compares_the_whole_value() {
        let jws = compute_detached(CONTENT, "abcdef", "0123456789abcdef");
        assert!(verify(&jws, CONTENT, "abcdef", "0123456789abcdef"));
        assert!(!verify(
            &jws,
            "apiVersion: v1\n",
            "abcdef",
            "0123456789abcdef"
        ));
        assert!(!verify(&jws, CONTENT, "abcdef", "0123456789abcdee"));
        assert!(!verify(&jws, CONTENT, "abcdeg", "0123456789abcdef"));
        assert!(!verify(
            &format!("{jws}="),
            CONTENT,
            "abcdef",
            "0123456789abcdef"
        ));
        assert!(!verify("", CONTENT, "abcdef", "0123456789abcdef"));
        // The same signature under a header with other bytes is not the same JWS.
        let (_, signature) = jws.split_once("..").unwrap();
        let spaced = URL_SAFE_NO_PAD.encode(r#"{"alg": "HS256","kid":"abcdef"}"#);
        let other = format!("{spaced}..{signature}");
        assert!(!verify(&other, CONTENT, "abcdef", "0123456789abcdef"));
    }
}
