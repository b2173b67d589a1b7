//! The checks: what was found on disk against what the plan wants, for each CA, the
//! service-account pair, each leaf and each kubeconfig — keep it, issue it again (and why), or
//! refuse to touch it. Pure: facts in (what [`inspect`](super::inspect) read), verdicts out.
//!
//! The rules, in short. A CA is identity: one whose certificate or key is damaged is never
//! replaced (the run fails and says what to restore); a CA that is wholly absent is made only
//! where no leaf can depend on it yet (a new set, or the etcd CA of a node that had none), and a
//! CA key whose certificate is gone gets a new self-signed certificate for the same key. A leaf's
//! key is kept whenever it is readable: a leaf is issued again, with that key, when it is missing,
//! unreadable, not the key's, not signed by its CA, not for the wanted subject or usage, lacks a
//! wanted SAN, or expires within [`RENEW_WITHIN_DAYS`]. Extra SANs are no reason.

use super::inspect::CertInfo;
use super::plan::{RENEW_WITHIN_DAYS, San, Subject, Usage};

const DAY: i64 = 24 * 60 * 60;

/// What was found at one path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Found<T> {
    /// No file.
    Missing,
    /// A file that cannot be used, and why (never its content).
    Unreadable(String),
    /// A usable file.
    Present(T),
}

impl<T> Found<T> {
    /// The value, when present.
    pub fn present(&self) -> Option<&T> {
        match self {
            Found::Present(v) => Some(v),
            _ => None,
        }
    }

    /// Whether there is no file.
    pub fn is_missing(&self) -> bool {
        matches!(self, Found::Missing)
    }
}

/// An existing certificate and whether its CA (as it is now) signed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeenCert {
    /// What it says.
    pub info: CertInfo,
    /// Whether the CA it should come from signed it.
    pub signed_by_ca: bool,
}

/// What a certificate must be.
#[derive(Clone, Copy, Debug)]
pub struct Wanted<'a> {
    /// Its subject.
    pub subject: &'a Subject,
    /// Names it must have (it may have more).
    pub sans: &'a [San],
    /// Its usage.
    pub usage: Usage,
}

/// What to do with a certificate and its key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Both are right.
    Keep,
    /// Issue the certificate again — with a new key when `new_key`, else with the one on disk.
    Issue {
        /// The key is missing or unreadable.
        new_key: bool,
        /// Why, for the output (empty for a certificate that was simply missing).
        reasons: Vec<String>,
    },
}

/// The verdict on a leaf (or a kubeconfig's client credentials): `cert` as found, `key` the
/// public half of the private key found, at `now` (Unix seconds).
pub fn check_credentials(
    wanted: Wanted<'_>,
    cert: &Found<SeenCert>,
    key: &Found<Vec<u8>>,
    now: i64,
) -> Verdict {
    let new_key = !matches!(key, Found::Present(_));
    let mut reasons = Vec::new();
    match key {
        Found::Missing if !cert.is_missing() => reasons.push("its key is missing".to_owned()),
        Found::Unreadable(why) => reasons.push(format!("its key is unreadable ({why})")),
        _ => {}
    }
    match cert {
        Found::Missing => {}
        Found::Unreadable(why) => reasons.push(format!("unreadable ({why})")),
        Found::Present(seen) => {
            if let Found::Present(public) = key
                && seen.info.public_key != *public
            {
                reasons.push("not for its key".to_owned());
            }
            reasons.extend(certificate_problems(wanted, seen, now));
        }
    }
    if cert.is_missing() || new_key || !reasons.is_empty() {
        Verdict::Issue { new_key, reasons }
    } else {
        Verdict::Keep
    }
}

/// What is wrong with a readable certificate, whatever its key.
fn certificate_problems(wanted: Wanted<'_>, seen: &SeenCert, now: i64) -> Vec<String> {
    let info = &seen.info;
    let mut problems = Vec::new();
    if !seen.signed_by_ca {
        problems.push("not signed by its CA".to_owned());
    }
    if info.subject != *wanted.subject {
        problems.push(format!(
            "subject is {}, wanted {}",
            show_subject(&info.subject),
            show_subject(wanted.subject)
        ));
    }
    if info.is_ca
        || info.server_auth != wanted.usage.server()
        || info.client_auth != wanted.usage.client()
    {
        problems.push(format!(
            "usage is not {}",
            match wanted.usage {
                Usage::Server => "server only",
                Usage::Client => "client only",
                Usage::ServerAndClient => "server and client",
            }
        ));
    }
    let missing: Vec<String> = wanted
        .sans
        .iter()
        .filter(|san| !info.sans.contains(san))
        .map(|san| san.to_string())
        .collect();
    if !missing.is_empty() {
        let s = if missing.len() == 1 { "" } else { "s" };
        problems.push(format!("missing SAN{s} {}", missing.join(", ")));
    }
    if let Some(why) = expiry(info, now) {
        problems.push(why);
    }
    problems
}

/// `expired` or `expires in N days` within [`RENEW_WITHIN_DAYS`]; `not valid yet` when it starts
/// in the future (a clock set back since).
fn expiry(info: &CertInfo, now: i64) -> Option<String> {
    if info.not_after <= now {
        Some("expired".to_owned())
    } else if info.not_after - now < RENEW_WITHIN_DAYS * DAY {
        Some(format!(
            "expires in {} days",
            (info.not_after - now).div_euclid(DAY)
        ))
    } else if info.not_before > now {
        Some("not valid yet".to_owned())
    } else {
        None
    }
}

/// `CN=x, O=y` for messages.
pub fn show_subject(subject: &Subject) -> String {
    let mut text = format!("CN={}", subject.common_name);
    for org in &subject.organizations {
        text.push_str(", O=");
        text.push_str(org);
    }
    text
}

/// What to do with a CA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaVerdict {
    /// Use it.
    Keep,
    /// Make a new one (key and certificate).
    Create,
    /// The key is there without its certificate: self-sign a new certificate for that key.
    CertForKey,
    /// Stop: the CA is damaged and must not be replaced. Why.
    Refuse(String),
}

/// The verdict on a CA: `cert` and `key` (public half) as found; `may_create` when a wholly
/// absent CA may be made.
pub fn check_ca(cert: &Found<CertInfo>, key: &Found<Vec<u8>>, may_create: bool) -> CaVerdict {
    match (cert, key) {
        (Found::Missing, Found::Missing) if may_create => CaVerdict::Create,
        (Found::Missing, Found::Missing) => CaVerdict::Refuse(
            "the certificate and key are missing from an existing set; \
             restore them (a new CA would disown every certificate and node)"
                .into(),
        ),
        (Found::Missing, Found::Present(_)) => CaVerdict::CertForKey,
        (_, Found::Missing) => CaVerdict::Refuse(
            "the certificate is there but its key is missing; restore the key".into(),
        ),
        (_, Found::Unreadable(why)) => CaVerdict::Refuse(format!("the key is unreadable ({why})")),
        (Found::Unreadable(why), _) => {
            CaVerdict::Refuse(format!("the certificate is unreadable ({why})"))
        }
        (Found::Present(info), Found::Present(public)) => {
            if !info.is_ca {
                CaVerdict::Refuse("the certificate is not a CA".into())
            } else if info.public_key != *public {
                CaVerdict::Refuse("the key is not the certificate's key".into())
            } else {
                CaVerdict::Keep
            }
        }
    }
}

/// A warning for a CA that has expired or expires within [`RENEW_WITHIN_DAYS`]: nothing here
/// replaces a CA.
pub fn ca_warning(info: &CertInfo, now: i64) -> Option<String> {
    expiry(info, now)
}

/// What to do with the service-account key pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SaVerdict {
    /// Use both.
    Keep,
    /// Make a new pair.
    Create,
    /// Write `sa.pub` again from `sa.key` (missing, unreadable, or another key's). Why.
    PubFromKey(String),
    /// Stop: the signing key is damaged or gone while tokens may depend on it. Why.
    Refuse(String),
}

/// The verdict on `sa.key` (its public half) and `sa.pub` (its key bits), as found.
pub fn check_sa(key: &Found<Vec<u8>>, public: &Found<Vec<u8>>) -> SaVerdict {
    match (key, public) {
        (Found::Missing, Found::Missing) => SaVerdict::Create,
        (Found::Missing, _) => SaVerdict::Refuse(
            "sa.pub is there but sa.key is missing; restore sa.key (a new key would \
             invalidate every service-account token)"
                .into(),
        ),
        (Found::Unreadable(why), _) => SaVerdict::Refuse(format!("sa.key is unreadable ({why})")),
        (Found::Present(_), Found::Missing) => SaVerdict::PubFromKey("missing".into()),
        (Found::Present(_), Found::Unreadable(why)) => {
            SaVerdict::PubFromKey(format!("unreadable ({why})"))
        }
        (Found::Present(k), Found::Present(p)) if k != p => {
            SaVerdict::PubFromKey("not sa.key's public key".into())
        }
        (Found::Present(_), Found::Present(_)) => SaVerdict::Keep,
    }
}

/// An existing kubeconfig, as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeenKubeconfig {
    /// Its cluster's server URL.
    pub server: String,
    /// Whether its `certificate-authority-data` is the cluster CA as it is now.
    pub ca_matches: bool,
    /// Its client certificate.
    pub cert: Found<SeenCert>,
    /// Its client key's public half.
    pub key: Found<Vec<u8>>,
}

/// What to do with a kubeconfig.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KubeconfigVerdict {
    /// Keep the file as it is.
    Keep,
    /// Write it again with the credentials it has (server or CA changed). Why.
    Rewrite(Vec<String>),
    /// Write it again with a new client certificate (and a new key when `new_key`).
    Issue {
        /// Its key is missing or unreadable, or the file is.
        new_key: bool,
        /// Why (empty for a missing file).
        reasons: Vec<String>,
    },
}

/// The verdict on a kubeconfig: `found` as read, for `wanted` credentials and `server`.
pub fn check_kubeconfig(
    wanted: Wanted<'_>,
    server: &str,
    found: &Found<SeenKubeconfig>,
    now: i64,
) -> KubeconfigVerdict {
    let seen = match found {
        Found::Missing => {
            return KubeconfigVerdict::Issue {
                new_key: true,
                reasons: Vec::new(),
            };
        }
        Found::Unreadable(why) => {
            return KubeconfigVerdict::Issue {
                new_key: true,
                reasons: vec![format!("unreadable ({why})")],
            };
        }
        Found::Present(seen) => seen,
    };
    let mut file_reasons = Vec::new();
    if seen.server != server {
        file_reasons.push(format!("server is {}, wanted {server}", seen.server));
    }
    if !seen.ca_matches {
        file_reasons.push("its CA is not the cluster CA".to_owned());
    }
    let cert = match &seen.cert {
        Found::Missing => Found::Unreadable("no client certificate".into()),
        other => other.clone(),
    };
    let key = match &seen.key {
        Found::Missing => Found::Unreadable("no client key".into()),
        other => other.clone(),
    };
    match check_credentials(wanted, &cert, &key, now) {
        Verdict::Keep if file_reasons.is_empty() => KubeconfigVerdict::Keep,
        Verdict::Keep => KubeconfigVerdict::Rewrite(file_reasons),
        Verdict::Issue { new_key, reasons } => KubeconfigVerdict::Issue {
            new_key,
            reasons: file_reasons.into_iter().chain(reasons).collect(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn subject(cn: &str, orgs: &[&str]) -> Subject {
        Subject {
            common_name: cn.into(),
            organizations: orgs.iter().map(|o| o.to_string()).collect(),
        }
    }

    fn ip(text: &str) -> San {
        San::Ip(text.parse().unwrap())
    }

    fn info(sans: Vec<San>) -> CertInfo {
        CertInfo {
            der: vec![],
            subject: subject("kube-apiserver", &[]),
            sans,
            is_ca: false,
            not_before: NOW - DAY,
            not_after: NOW + 300 * DAY,
            server_auth: true,
            client_auth: false,
            public_key: vec![1, 2, 3],
        }
    }

    fn seen(info: CertInfo) -> Found<SeenCert> {
        Found::Present(SeenCert {
            info,
            signed_by_ca: true,
        })
    }

    fn key() -> Found<Vec<u8>> {
        Found::Present(vec![1, 2, 3])
    }

    fn apiserver<'a>(want: &'a Subject, sans: &'a [San]) -> Wanted<'a> {
        Wanted {
            subject: want,
            sans,
            usage: Usage::Server,
        }
    }

    fn reasons(v: Verdict) -> (bool, Vec<String>) {
        match v {
            Verdict::Issue { new_key, reasons } => (new_key, reasons),
            Verdict::Keep => panic!("kept"),
        }
    }

    #[test]
    fn a_right_leaf_is_kept_even_with_extra_sans() {
        let want = subject("kube-apiserver", &[]);
        let sans = [ip("10.0.0.10")];
        let cert = seen(info(vec![ip("10.0.0.10"), ip("10.0.0.99")]));
        assert_eq!(
            check_credentials(apiserver(&want, &sans), &cert, &key(), NOW),
            Verdict::Keep
        );
    }

    #[test]
    fn a_missing_san_reissues_with_the_same_key_and_names_it() {
        let want = subject("kube-apiserver", &[]);
        let sans = [ip("10.0.0.10"), San::Dns("api.example.com".into())];
        let cert = seen(info(vec![ip("10.0.0.10")]));
        let (new_key, why) = reasons(check_credentials(
            apiserver(&want, &sans),
            &cert,
            &key(),
            NOW,
        ));
        assert!(!new_key);
        assert_eq!(why, ["missing SAN DNS:api.example.com"]);
    }

    #[test]
    fn a_missing_certificate_is_issued_for_the_key_there() {
        let want = subject("kube-apiserver", &[]);
        let v = check_credentials(apiserver(&want, &[]), &Found::Missing, &key(), NOW);
        assert_eq!(
            v,
            Verdict::Issue {
                new_key: false,
                reasons: vec![]
            }
        );
        let v = check_credentials(apiserver(&want, &[]), &Found::Missing, &Found::Missing, NOW);
        assert_eq!(
            v,
            Verdict::Issue {
                new_key: true,
                reasons: vec![]
            }
        );
    }

    #[test]
    fn a_missing_or_unreadable_key_means_a_new_key_and_certificate() {
        let want = subject("kube-apiserver", &[]);
        let cert = seen(info(vec![]));
        let (new_key, why) = reasons(check_credentials(
            apiserver(&want, &[]),
            &cert,
            &Found::Missing,
            NOW,
        ));
        assert!(new_key);
        assert_eq!(why, ["its key is missing"]);
        let (new_key, why) = reasons(check_credentials(
            apiserver(&want, &[]),
            &cert,
            &Found::Unreadable("no PEM private key".into()),
            NOW,
        ));
        assert!(new_key);
        assert_eq!(why, ["its key is unreadable (no PEM private key)"]);
    }

    #[test]
    fn every_other_problem_is_named() {
        let want = subject("kube-apiserver-kubelet-client", &["kubeadm:cluster-admins"]);
        let mut bad = info(vec![]);
        bad.not_after = NOW + 3 * DAY;
        bad.public_key = vec![9];
        let cert = Found::Present(SeenCert {
            info: bad,
            signed_by_ca: false,
        });
        let wanted = Wanted {
            subject: &want,
            sans: &[],
            usage: Usage::Client,
        };
        let (new_key, why) = reasons(check_credentials(wanted, &cert, &key(), NOW));
        assert!(!new_key);
        assert_eq!(
            why,
            [
                "not for its key",
                "not signed by its CA",
                "subject is CN=kube-apiserver, wanted CN=kube-apiserver-kubelet-client, \
                 O=kubeadm:cluster-admins",
                "usage is not client only",
                "expires in 3 days",
            ]
        );
    }

    #[test]
    fn expired_and_future_certificates_are_issued_again() {
        let want = subject("kube-apiserver", &[]);
        let mut old = info(vec![]);
        old.not_after = NOW;
        let (_, why) = reasons(check_credentials(
            apiserver(&want, &[]),
            &seen(old),
            &key(),
            NOW,
        ));
        assert_eq!(why, ["expired"]);
        let mut future = info(vec![]);
        future.not_before = NOW + DAY;
        let (_, why) = reasons(check_credentials(
            apiserver(&want, &[]),
            &seen(future),
            &key(),
            NOW,
        ));
        assert_eq!(why, ["not valid yet"]);
    }

    fn ca_info() -> CertInfo {
        CertInfo {
            is_ca: true,
            ..info(vec![])
        }
    }

    #[test]
    fn a_ca_is_kept_made_only_where_allowed_and_never_replaced() {
        let ok = Found::Present(ca_info());
        assert_eq!(check_ca(&ok, &key(), false), CaVerdict::Keep);
        assert_eq!(
            check_ca(&Found::Missing, &Found::Missing, true),
            CaVerdict::Create
        );
        assert!(matches!(
            check_ca(&Found::Missing, &Found::Missing, false),
            CaVerdict::Refuse(_)
        ));
        assert_eq!(
            check_ca(&Found::Missing, &key(), false),
            CaVerdict::CertForKey
        );
        for (cert, key, why) in [
            (ok.clone(), Found::Missing, "its key is missing"),
            (
                ok.clone(),
                Found::Unreadable("x".into()),
                "key is unreadable",
            ),
            (
                Found::Unreadable("y".into()),
                key(),
                "certificate is unreadable",
            ),
            (Found::Present(info(vec![])), key(), "not a CA"),
            (
                ok.clone(),
                Found::Present(vec![7]),
                "not the certificate's key",
            ),
        ] {
            match check_ca(&cert, &key, true) {
                CaVerdict::Refuse(text) => assert!(text.contains(why), "{text}"),
                other => panic!("{why}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_ca_close_to_its_end_is_warned_about() {
        let mut ca = ca_info();
        assert_eq!(ca_warning(&ca, NOW), None);
        ca.not_after = NOW + 10 * DAY;
        assert_eq!(ca_warning(&ca, NOW).as_deref(), Some("expires in 10 days"));
    }

    #[test]
    fn the_service_account_key_is_never_replaced_but_its_public_half_is_rederived() {
        let k = Found::Present(vec![1]);
        assert_eq!(check_sa(&k, &Found::Present(vec![1])), SaVerdict::Keep);
        assert_eq!(
            check_sa(&Found::Missing, &Found::Missing),
            SaVerdict::Create
        );
        assert!(matches!(
            check_sa(&k, &Found::Missing),
            SaVerdict::PubFromKey(_)
        ));
        assert!(matches!(
            check_sa(&k, &Found::Present(vec![2])),
            SaVerdict::PubFromKey(_)
        ));
        assert!(matches!(
            check_sa(&Found::Missing, &Found::Present(vec![1])),
            SaVerdict::Refuse(_)
        ));
        assert!(matches!(
            check_sa(&Found::Unreadable("x".into()), &Found::Missing),
            SaVerdict::Refuse(_)
        ));
    }

    fn kubeconfig(server: &str, ca_matches: bool) -> Found<SeenKubeconfig> {
        let mut cert = info(vec![]);
        cert.subject = subject("kubernetes-admin", &["kubeadm:cluster-admins"]);
        cert.server_auth = false;
        cert.client_auth = true;
        Found::Present(SeenKubeconfig {
            server: server.into(),
            ca_matches,
            cert: seen(cert),
            key: key(),
        })
    }

    #[test]
    fn a_kubeconfig_is_kept_rewritten_or_reissued() {
        let want = subject("kubernetes-admin", &["kubeadm:cluster-admins"]);
        let wanted = Wanted {
            subject: &want,
            sans: &[],
            usage: Usage::Client,
        };
        let url = "https://10.0.0.10:6443";
        assert_eq!(
            check_kubeconfig(wanted, url, &kubeconfig(url, true), NOW),
            KubeconfigVerdict::Keep
        );
        assert_eq!(
            check_kubeconfig(
                wanted,
                url,
                &kubeconfig("https://10.0.0.11:6443", true),
                NOW
            ),
            KubeconfigVerdict::Rewrite(vec![
                "server is https://10.0.0.11:6443, wanted https://10.0.0.10:6443".into()
            ])
        );
        assert_eq!(
            check_kubeconfig(wanted, url, &Found::Missing, NOW),
            KubeconfigVerdict::Issue {
                new_key: true,
                reasons: vec![]
            }
        );
        let other = subject("system:kube-scheduler", &[]);
        let wanted_other = Wanted {
            subject: &other,
            ..wanted
        };
        match check_kubeconfig(wanted_other, url, &kubeconfig(url, false), NOW) {
            KubeconfigVerdict::Issue { new_key, reasons } => {
                assert!(!new_key);
                assert_eq!(reasons[0], "its CA is not the cluster CA");
                assert!(reasons[1].starts_with("subject is"), "{reasons:?}");
            }
            other => panic!("{other:?}"),
        }
    }
}
