//! The PKI agent: the cluster PKI of a control-plane node — kubeadm's certificates, keys and
//! kubeconfigs, with kubeadm's names — made once and kept.
//!
//! Pure decisions — the set wanted ([`plan`]) and what to do with each file found ([`check`]) —
//! are separate from the effects: reading certificates ([`inspect`]), keys ([`keys`]), making
//! certificates ([`issue`]), kubeconfigs ([`kubeconfig`]), the crash-safe files ([`store`]) and
//! the command around them ([`run`]). PID 1 runs `plinth-agent pki` as a oneshot before etcd and
//! the apiserver.
//!
//! On disk, under the root (`/var/lib/plinth`): `pki/` with `ca`, `front-proxy-ca`, `etcd/ca`,
//! `apiserver`, `apiserver-kubelet-client`, `front-proxy-client`, `etcd/server`, `etcd/peer`,
//! `etcd/healthcheck-client`, `apiserver-etcd-client` (each `.crt` and `.key`) and `sa.key` +
//! `sa.pub`; `kubernetes/` with `admin.conf`, `super-admin.conf`, `controller-manager.conf`,
//! `scheduler.conf`, `kubelet.conf` and `kube-proxy.conf`. Every key is ECDSA P-256 (PKCS#8 PEM),
//! the service-account key too (`sa.pub` is its SubjectPublicKeyInfo PEM).

pub mod check;
pub mod inspect;
pub mod issue;
pub mod keys;
pub mod kubeconfig;
pub mod plan;
pub mod run;
pub mod store;

pub use plan::{DEFAULT_ROOT, PkiRequest, Plan, first_service_ip, plan};
pub use run::{Line, OperatorCa, Outcome, PkiError, PkiOptions, Report, run};
