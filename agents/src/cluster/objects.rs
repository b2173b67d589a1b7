//! The objects a kubeadm-made cluster has after `kubeadm init`, built from the cluster's secrets
//! (NOTES-kubernetes §2; kubeadm `phases/bootstraptoken/{node,clusterinfo}`, `phases/copycerts`),
//! and what to do with each one found: pure, no API call here (those are in `bootstrap`).
//!
//! - the bootstrap token Secret `kube-system/bootstrap-token-<id>`: authentication and signing
//!   usages, kubeadm's extra group, and **no expiration** (kubeadm's default is 24 h): the token of
//!   the machine config is the cluster's standing join secret, rotated by changing the config,
//!   not by time;
//! - `kube-public/cluster-info` (`kubeconfig`: the server URL and the CA, nothing else) and the
//!   Role and RoleBinding `kubeadm:bootstrap-signer-clusterinfo` that let `system:anonymous` get it;
//! - the TLS-bootstrap RBAC: `kubeadm:kubelet-bootstrap`, `kubeadm:node-autoapprove-bootstrap`,
//!   `kubeadm:node-autoapprove-certificate-rotation`, `kubeadm:get-nodes` (with its ClusterRole),
//!   `kubeadm:cluster-admins`, and `kube-apiserver-kubelet-client` (the apiserver's client of the
//!   kubelets gets `system:kubelet-api-admin`);
//! - `kube-system/kubeadm-certs` (see `certs`) and the Role and RoleBinding `kubeadm:kubeadm-certs`
//!   that let the bootstrap token's group read it.
//!
//! Each object found is compared only on what Plinth sets ([`Reconcile`]); what others add (the
//! bootstrapsigner's `jws-kubeconfig-*` keys, labels, annotations) is kept.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::token::BootstrapToken;

pub const KUBE_SYSTEM: &str = "kube-system";
pub const KUBE_PUBLIC: &str = "kube-public";
/// The group kubeadm's node tokens authenticate into (besides `system:bootstrappers`).
pub const BOOTSTRAP_GROUP: &str = "system:bootstrappers:kubeadm:default-node-token";
/// The kubelets' group.
pub const NODES_GROUP: &str = "system:nodes";
/// The group of `admin.conf` (kubeadm ≥ 1.29), bound to `cluster-admin`.
pub const CLUSTER_ADMINS_GROUP: &str = "kubeadm:cluster-admins";
/// The CN of the apiserver's client certificate for the kubelets.
pub const APISERVER_KUBELET_CLIENT: &str = "kube-apiserver-kubelet-client";
pub const ANONYMOUS: &str = "system:anonymous";
pub const TOKEN_SECRET_TYPE: &str = "bootstrap.kubernetes.io/token";
pub const CLUSTER_INFO: &str = "cluster-info";
/// cluster-info's key holding the kubeconfig the bootstrapsigner signs.
pub const KUBECONFIG_KEY: &str = "kubeconfig";
pub const CLUSTER_INFO_ROLE: &str = "kubeadm:bootstrap-signer-clusterinfo";
pub const KUBEADM_CERTS_ROLE: &str = "kubeadm:kubeadm-certs";
pub const GET_NODES: &str = "kubeadm:get-nodes";
/// The description kept in the token Secret (as `kubeadm token create --description`).
pub const TOKEN_DESCRIPTION: &str =
    "The cluster's join token (plinth.cluster.token), kept by Plinth";

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

fn meta(namespace: Option<&str>, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: namespace.map(str::to_owned),
        ..ObjectMeta::default()
    }
}

fn bytes(pairs: &[(&str, &str)]) -> BTreeMap<String, ByteString> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), ByteString(v.as_bytes().to_vec())))
        .collect()
}

/// `kube-system/bootstrap-token-<id>`, as kubeadm's `encodeTokenSecretData` writes it, without
/// `expiration`.
pub fn token_secret(token: &BootstrapToken) -> Secret {
    Secret {
        metadata: meta(Some(KUBE_SYSTEM), &token.secret_name()),
        type_: Some(TOKEN_SECRET_TYPE.to_owned()),
        data: Some(bytes(&[
            ("auth-extra-groups", BOOTSTRAP_GROUP),
            ("description", TOKEN_DESCRIPTION),
            ("token-id", token.id()),
            ("token-secret", token.secret()),
            ("usage-bootstrap-authentication", "true"),
            ("usage-bootstrap-signing", "true"),
        ])),
        ..Secret::default()
    }
}

/// cluster-info's kubeconfig: one cluster named `""` with the server and the CA (PEM), in the
/// bytes client-go's `clientcmd.Write` produces for it (keys sorted, empty parts `null`).
pub fn cluster_info_kubeconfig(server: &str, ca_pem: &[u8]) -> String {
    format!(
        "apiVersion: v1\n\
         clusters:\n\
         - cluster:\n    \
         certificate-authority-data: {}\n    \
         server: {server}\n  \
         name: \"\"\n\
         contexts: null\n\
         current-context: \"\"\n\
         kind: Config\n\
         preferences: {{}}\n\
         users: null\n",
        STANDARD.encode(ca_pem)
    )
}

/// `kube-public/cluster-info` with the kubeconfig.
pub fn cluster_info(kubeconfig: &str) -> ConfigMap {
    ConfigMap {
        metadata: meta(Some(KUBE_PUBLIC), CLUSTER_INFO),
        data: Some([(KUBECONFIG_KEY.to_owned(), kubeconfig.to_owned())].into()),
        ..ConfigMap::default()
    }
}

fn rule(verbs: &[&str], resources: &[&str], names: &[&str]) -> PolicyRule {
    let strings = |s: &[&str]| s.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    PolicyRule {
        verbs: strings(verbs),
        api_groups: Some(vec![String::new()]),
        resources: Some(strings(resources)),
        resource_names: (!names.is_empty()).then(|| strings(names)),
        non_resource_urls: None,
    }
}

fn subject(kind: &str, name: &str) -> Subject {
    Subject {
        api_group: Some(RBAC_GROUP.to_owned()),
        kind: kind.to_owned(),
        name: name.to_owned(),
        namespace: None,
    }
}

fn role_ref(kind: &str, name: &str) -> RoleRef {
    RoleRef {
        api_group: RBAC_GROUP.to_owned(),
        kind: kind.to_owned(),
        name: name.to_owned(),
    }
}

fn role(namespace: &str, name: &str, rules: Vec<PolicyRule>) -> Role {
    Role {
        metadata: meta(Some(namespace), name),
        rules: Some(rules),
    }
}

/// A RoleBinding named as the Role it binds.
fn role_binding(namespace: &str, role: &str, subject: Subject) -> RoleBinding {
    RoleBinding {
        metadata: meta(Some(namespace), role),
        role_ref: role_ref("Role", role),
        subjects: Some(vec![subject]),
    }
}

fn cluster_role_binding(name: &str, cluster_role: &str, subject: Subject) -> ClusterRoleBinding {
    ClusterRoleBinding {
        metadata: meta(None, name),
        role_ref: role_ref("ClusterRole", cluster_role),
        subjects: Some(vec![subject]),
    }
}

/// The Role and RoleBinding that let anyone, unauthenticated, get cluster-info.
pub fn cluster_info_rbac() -> (Role, RoleBinding) {
    (
        role(
            KUBE_PUBLIC,
            CLUSTER_INFO_ROLE,
            vec![rule(&["get"], &["configmaps"], &[CLUSTER_INFO])],
        ),
        role_binding(KUBE_PUBLIC, CLUSTER_INFO_ROLE, subject("User", ANONYMOUS)),
    )
}

/// The binding that lets every node's kube-proxy run as the node (`system:nodes`).
pub const NODE_PROXIER: &str = "plinth:node-proxier";

/// kubeadm's TLS-bootstrap RBAC (and Plinth's [`NODE_PROXIER`]): the ClusterRole `kubeadm:get-nodes` and the ClusterRoleBindings.
pub fn tls_bootstrap_rbac() -> (Vec<ClusterRole>, Vec<ClusterRoleBinding>) {
    let group = |name| subject("Group", name);
    let roles = vec![ClusterRole {
        metadata: meta(None, GET_NODES),
        rules: Some(vec![rule(&["get"], &["nodes"], &[])]),
        aggregation_rule: None,
    }];
    let bindings = vec![
        cluster_role_binding(
            "kubeadm:kubelet-bootstrap",
            "system:node-bootstrapper",
            group(BOOTSTRAP_GROUP),
        ),
        cluster_role_binding(
            "kubeadm:node-autoapprove-bootstrap",
            "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
            group(BOOTSTRAP_GROUP),
        ),
        cluster_role_binding(
            "kubeadm:node-autoapprove-certificate-rotation",
            "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
            group(NODES_GROUP),
        ),
        cluster_role_binding(GET_NODES, GET_NODES, group(BOOTSTRAP_GROUP)),
        cluster_role_binding(
            CLUSTER_ADMINS_GROUP,
            "cluster-admin",
            group(CLUSTER_ADMINS_GROUP),
        ),
        cluster_role_binding(
            APISERVER_KUBELET_CLIENT,
            "system:kubelet-api-admin",
            subject("User", APISERVER_KUBELET_CLIENT),
        ),
        // Not kubeadm's (its kube-proxy is a DaemonSet with a service account): a Plinth agent
        // runs kube-proxy as a host process with the node's own credentials.
        cluster_role_binding(NODE_PROXIER, "system:node-proxier", group(NODES_GROUP)),
    ];
    (roles, bindings)
}

/// `kube-system/kubeadm-certs` holding `data` (already encrypted, see `certs`).
pub fn kubeadm_certs_secret(data: &BTreeMap<String, Vec<u8>>) -> Secret {
    Secret {
        metadata: meta(Some(KUBE_SYSTEM), super::certs::SECRET),
        type_: Some("Opaque".to_owned()),
        data: Some(
            data.iter()
                .map(|(k, v)| (k.clone(), ByteString(v.clone())))
                .collect(),
        ),
        ..Secret::default()
    }
}

/// The Role and RoleBinding that let the bootstrap token's group get `kubeadm-certs`.
pub fn kubeadm_certs_rbac() -> (Role, RoleBinding) {
    (
        role(
            KUBE_SYSTEM,
            KUBEADM_CERTS_ROLE,
            vec![rule(&["get"], &["secrets"], &[super::certs::SECRET])],
        ),
        role_binding(
            KUBE_SYSTEM,
            KUBEADM_CERTS_ROLE,
            subject("Group", BOOTSTRAP_GROUP),
        ),
    )
}

/// The action for `kubeadm-certs`: kept when the Secret found decrypts with `key` to exactly the
/// files `plain` (encryption is randomised, so its bytes never match a new encryption); otherwise
/// created or replaced with `encrypted`, which is `plain` freshly encrypted.
pub fn kubeadm_certs_plan(
    found: Option<&Secret>,
    plain: &BTreeMap<String, Vec<u8>>,
    encrypted: &BTreeMap<String, Vec<u8>>,
    key: &super::token::CertificateKey,
) -> Action<Secret> {
    let wanted = kubeadm_certs_secret(encrypted);
    match found {
        Some(found)
            if found.type_ == wanted.type_
                && super::certs::up_to_date(&secret_data(found), plain, key) =>
        {
            Action::Keep
        }
        found => plan(&wanted, found),
    }
}

/// A Secret's data as plain bytes by key.
pub fn secret_data(secret: &Secret) -> BTreeMap<String, Vec<u8>> {
    secret
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect()
}

/// What to do to make the cluster hold a wanted object.
#[derive(Clone, Debug, PartialEq)]
pub enum Action<K> {
    /// It is missing: create it.
    Create(K),
    /// It is right: touch nothing.
    Keep,
    /// Replace it with this (the found object with Plinth's part set, its `resourceVersion`
    /// kept, so a concurrent change is a conflict to retry).
    Replace(K),
    /// A part that cannot change is wrong (a binding's `roleRef`, a Secret's `type`): delete it
    /// and create this.
    Recreate(K),
}

/// Compares a found object with the wanted one on what Plinth sets.
pub trait Reconcile: Clone + Sized {
    /// What to do with `found` to make it hold `self`.
    fn reconcile(&self, found: &Self) -> Action<Self>;
}

/// The action for an object wanted, found or not.
pub fn plan<K: Reconcile>(wanted: &K, found: Option<&K>) -> Action<K> {
    match found {
        None => Action::Create(wanted.clone()),
        Some(found) => wanted.reconcile(found),
    }
}

impl Reconcile for Secret {
    /// The type and the whole `data`.
    fn reconcile(&self, found: &Self) -> Action<Self> {
        if found.type_ != self.type_ {
            return Action::Recreate(self.clone());
        }
        if secret_data(found) == secret_data(self) {
            return Action::Keep;
        }
        let mut next = found.clone();
        next.data.clone_from(&self.data);
        next.string_data = None;
        Action::Replace(next)
    }
}

impl Reconcile for ConfigMap {
    /// Only the keys Plinth sets; others (the JWS signatures) are kept.
    fn reconcile(&self, found: &Self) -> Action<Self> {
        let wanted = self.data.clone().unwrap_or_default();
        let have = found.data.clone().unwrap_or_default();
        if wanted.iter().all(|(k, v)| have.get(k) == Some(v)) {
            return Action::Keep;
        }
        let mut next = found.clone();
        next.data.get_or_insert_default().extend(wanted);
        Action::Replace(next)
    }
}

/// Rules compared with `None` and empty lists alike (the apiserver drops empty ones).
fn same_rules(a: &Option<Vec<PolicyRule>>, b: &Option<Vec<PolicyRule>>) -> bool {
    let norm = |rules: &Option<Vec<PolicyRule>>| {
        rules
            .iter()
            .flatten()
            .map(|r| {
                let list = |l: &Option<Vec<String>>| l.clone().unwrap_or_default();
                (
                    r.verbs.clone(),
                    list(&r.api_groups),
                    list(&r.resources),
                    list(&r.resource_names),
                    list(&r.non_resource_urls),
                )
            })
            .collect::<Vec<_>>()
    };
    norm(a) == norm(b)
}

/// Subjects compared with the apiserver's default `apiGroup` filled in.
fn same_subjects(a: &Option<Vec<Subject>>, b: &Option<Vec<Subject>>) -> bool {
    let norm = |subjects: &Option<Vec<Subject>>| {
        subjects
            .iter()
            .flatten()
            .map(|s| {
                let group = match (s.kind.as_str(), &s.api_group) {
                    ("User" | "Group", None) => RBAC_GROUP.to_owned(),
                    (_, g) => g.clone().unwrap_or_default(),
                };
                (s.kind.clone(), s.name.clone(), group, s.namespace.clone())
            })
            .collect::<Vec<_>>()
    };
    norm(a) == norm(b)
}

impl Reconcile for Role {
    fn reconcile(&self, found: &Self) -> Action<Self> {
        if same_rules(&self.rules, &found.rules) {
            return Action::Keep;
        }
        let mut next = found.clone();
        next.rules.clone_from(&self.rules);
        Action::Replace(next)
    }
}

impl Reconcile for ClusterRole {
    fn reconcile(&self, found: &Self) -> Action<Self> {
        if same_rules(&self.rules, &found.rules) && found.aggregation_rule.is_none() {
            return Action::Keep;
        }
        let mut next = found.clone();
        next.rules.clone_from(&self.rules);
        next.aggregation_rule = None;
        Action::Replace(next)
    }
}

macro_rules! reconcile_binding {
    ($kind:ty) => {
        impl Reconcile for $kind {
            /// `roleRef` cannot change: a wrong one is a recreate; wrong subjects a replace.
            fn reconcile(&self, found: &Self) -> Action<Self> {
                if found.role_ref != self.role_ref {
                    return Action::Recreate(self.clone());
                }
                if same_subjects(&self.subjects, &found.subjects) {
                    return Action::Keep;
                }
                let mut next = found.clone();
                next.subjects.clone_from(&self.subjects);
                Action::Replace(next)
            }
        }
    };
}

reconcile_binding!(RoleBinding);
reconcile_binding!(ClusterRoleBinding);

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> BootstrapToken {
        BootstrapToken::parse("abcdef.0123456789abcdef").unwrap()
    }

    fn text(secret: &Secret, key: &str) -> String {
        String::from_utf8(secret.data.as_ref().unwrap()[key].0.clone()).unwrap()
    }

    #[test]
    fn the_token_secret_is_kubeadms_without_expiration() {
        let secret = token_secret(&token());
        assert_eq!(
            secret.metadata.name.as_deref(),
            Some("bootstrap-token-abcdef")
        );
        assert_eq!(secret.metadata.namespace.as_deref(), Some("kube-system"));
        assert_eq!(
            secret.type_.as_deref(),
            Some("bootstrap.kubernetes.io/token")
        );
        assert_eq!(text(&secret, "token-id"), "abcdef");
        assert_eq!(text(&secret, "token-secret"), "0123456789abcdef");
        assert_eq!(text(&secret, "usage-bootstrap-authentication"), "true");
        assert_eq!(text(&secret, "usage-bootstrap-signing"), "true");
        assert_eq!(
            text(&secret, "auth-extra-groups"),
            "system:bootstrappers:kubeadm:default-node-token"
        );
        assert!(!secret.data.as_ref().unwrap().contains_key("expiration"));
    }

    #[test]
    fn cluster_info_holds_the_server_and_the_ca_only() {
        let kubeconfig = cluster_info_kubeconfig("https://10.0.0.10:6443", b"PEM");
        assert_eq!(
            kubeconfig,
            "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: UEVN\n    \
             server: https://10.0.0.10:6443\n  name: \"\"\ncontexts: null\n\
             current-context: \"\"\nkind: Config\npreferences: {}\nusers: null\n"
        );
        let map = cluster_info(&kubeconfig);
        assert_eq!(map.metadata.namespace.as_deref(), Some("kube-public"));
        assert_eq!(map.data.unwrap()["kubeconfig"], kubeconfig);
    }

    #[test]
    fn the_rbac_kubeadm_makes() {
        let (roles, bindings) = tls_bootstrap_rbac();
        assert_eq!(roles[0].metadata.name.as_deref(), Some("kubeadm:get-nodes"));
        let rule = &roles[0].rules.as_ref().unwrap()[0];
        assert_eq!(rule.verbs, ["get"]);
        assert_eq!(rule.resources.as_deref(), Some(&["nodes".to_owned()][..]));
        let table: Vec<(String, String, String, String)> = bindings
            .iter()
            .map(|b| {
                let s = &b.subjects.as_ref().unwrap()[0];
                (
                    b.metadata.name.clone().unwrap(),
                    b.role_ref.name.clone(),
                    s.kind.clone(),
                    s.name.clone(),
                )
            })
            .collect();
        let row = |a: &str, b: &str, c: &str, d: &str| {
            (a.to_owned(), b.to_owned(), c.to_owned(), d.to_owned())
        };
        assert_eq!(
            table,
            [
                row(
                    "kubeadm:kubelet-bootstrap",
                    "system:node-bootstrapper",
                    "Group",
                    BOOTSTRAP_GROUP
                ),
                row(
                    "kubeadm:node-autoapprove-bootstrap",
                    "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
                    "Group",
                    BOOTSTRAP_GROUP
                ),
                row(
                    "kubeadm:node-autoapprove-certificate-rotation",
                    "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
                    "Group",
                    "system:nodes"
                ),
                row(
                    "kubeadm:get-nodes",
                    "kubeadm:get-nodes",
                    "Group",
                    BOOTSTRAP_GROUP
                ),
                row(
                    "kubeadm:cluster-admins",
                    "cluster-admin",
                    "Group",
                    "kubeadm:cluster-admins"
                ),
                row(
                    "kube-apiserver-kubelet-client",
                    "system:kubelet-api-admin",
                    "User",
                    "kube-apiserver-kubelet-client"
                ),
                row(
                    "plinth:node-proxier",
                    "system:node-proxier",
                    "Group",
                    "system:nodes"
                ),
            ]
        );
        let (role, binding) = cluster_info_rbac();
        assert_eq!(
            role.rules.unwrap()[0].resource_names.as_deref(),
            Some(&["cluster-info".to_owned()][..])
        );
        assert_eq!(binding.subjects.unwrap()[0].name, "system:anonymous");
        let (role, binding) = kubeadm_certs_rbac();
        assert_eq!(role.metadata.name.as_deref(), Some("kubeadm:kubeadm-certs"));
        assert_eq!(binding.role_ref.kind, "Role");
        assert_eq!(binding.subjects.unwrap()[0].name, BOOTSTRAP_GROUP);
    }

    /// What the apiserver gives back: a resourceVersion, defaults, others' additions.
    fn as_found<K: Clone>(k: &K, set: impl FnOnce(&mut K)) -> K {
        let mut k = k.clone();
        set(&mut k);
        k
    }

    #[test]
    fn secrets_are_kept_replaced_or_recreated() {
        let wanted = token_secret(&token());
        assert_eq!(plan(&wanted, None), Action::Create(wanted.clone()));
        let found = as_found(&wanted, |s| {
            s.metadata.resource_version = Some("7".into());
        });
        assert_eq!(plan(&wanted, Some(&found)), Action::Keep);
        let expiring = as_found(&found, |s| {
            s.data.as_mut().unwrap().insert(
                "expiration".into(),
                ByteString(b"2020-01-01T00:00:00Z".to_vec()),
            );
        });
        let Action::Replace(next) = plan(&wanted, Some(&expiring)) else {
            panic!("an expiration is removed");
        };
        assert_eq!(next.metadata.resource_version.as_deref(), Some("7"));
        assert_eq!(next.data, wanted.data);
        let opaque = as_found(&found, |s| s.type_ = Some("Opaque".into()));
        assert_eq!(
            plan(&wanted, Some(&opaque)),
            Action::Recreate(wanted.clone())
        );
    }

    #[test]
    fn cluster_info_keeps_the_signatures() {
        let wanted = cluster_info("new");
        let signed = as_found(&cluster_info("new"), |c| {
            c.data
                .as_mut()
                .unwrap()
                .insert("jws-kubeconfig-abcdef".into(), "sig".into());
        });
        assert_eq!(plan(&wanted, Some(&signed)), Action::Keep);
        let old = as_found(&signed, |c| {
            c.data
                .as_mut()
                .unwrap()
                .insert("kubeconfig".into(), "old".into());
        });
        let Action::Replace(next) = plan(&wanted, Some(&old)) else {
            panic!("a changed kubeconfig is replaced");
        };
        let data = next.data.unwrap();
        assert_eq!(data["kubeconfig"], "new");
        assert_eq!(data["jws-kubeconfig-abcdef"], "sig");
    }

    #[test]
    fn kubeadm_certs_are_kept_while_they_decrypt_to_the_files() {
        let key = super::super::token::CertificateKey::parse(&"11".repeat(32)).unwrap();
        let other = super::super::token::CertificateKey::parse(&"22".repeat(32)).unwrap();
        let plain: BTreeMap<String, Vec<u8>> = [("ca.crt".to_owned(), b"CA".to_vec())].into();
        let first = super::super::certs::encrypt_all(&plain, &key).unwrap();
        let second = super::super::certs::encrypt_all(&plain, &key).unwrap();
        let Action::Create(created) = kubeadm_certs_plan(None, &plain, &first, &key) else {
            panic!("a missing Secret is created");
        };
        assert_eq!(created.type_.as_deref(), Some("Opaque"));
        assert_eq!(secret_data(&created), first);
        assert_eq!(
            kubeadm_certs_plan(Some(&created), &plain, &second, &key),
            Action::Keep
        );
        let Action::Replace(next) = kubeadm_certs_plan(Some(&created), &plain, &second, &other)
        else {
            panic!("another key rewrites it");
        };
        assert_eq!(secret_data(&next), second);
    }

    #[test]
    fn bindings_and_roles() {
        let (_, bindings) = tls_bootstrap_rbac();
        let wanted = &bindings[0];
        // The apiserver keeps an explicit apiGroup; one left out compares the same.
        let defaulted = as_found(wanted, |b| {
            b.subjects.as_mut().unwrap()[0].api_group = None;
        });
        assert_eq!(plan(wanted, Some(&defaulted)), Action::Keep);
        let more = as_found(wanted, |b| {
            b.subjects
                .as_mut()
                .unwrap()
                .push(subject("Group", "someone"));
        });
        assert_eq!(plan(wanted, Some(&more)), Action::Replace(wanted.clone()));
        let other_role = as_found(wanted, |b| b.role_ref.name = "view".into());
        assert_eq!(
            plan(wanted, Some(&other_role)),
            Action::Recreate(wanted.clone())
        );

        let (roles, _) = tls_bootstrap_rbac();
        let wanted = &roles[0];
        let empty_lists = as_found(wanted, |r| {
            r.rules.as_mut().unwrap()[0].resource_names = Some(Vec::new());
        });
        assert_eq!(plan(wanted, Some(&empty_lists)), Action::Keep);
        let wider = as_found(wanted, |r| {
            r.rules.as_mut().unwrap()[0].verbs.push("list".into());
        });
        assert_eq!(plan(wanted, Some(&wider)), Action::Replace(wanted.clone()));
    }
}
