//! `plinth-agent pki`: plan the set, finish or undo what a power cut interrupted, then either make
//! the whole set in the staging directory and commit it (no `pki/` yet), or check the existing
//! set file by file against the plan and issue again only what is missing or wrong (see
//! [`check`](super::check) for the rules, [`store`](super::store) for the crash safety).
//!
//! Output, on stdout, one line per file: `pki: <created|copied|reused|reissued> <path>[: why]`
//! (paths under the root; never any key material), lines for what recovery did, then the summary
//! `pki: <N> files in <root>: <c> created, <u> reused, <r> reissued (<MS> ms)`. Warnings (a CA
//! about to expire) go to stderr as `pki: warning: ...`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use rcgen::KeyPair;
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

use super::check::{
    self, CaVerdict, Found, KubeconfigVerdict, SaVerdict, SeenCert, SeenKubeconfig, Verdict, Wanted,
};
use super::inspect::CertInfo;
use super::issue::{Authority, IssueError};
use super::keys;
use super::kubeconfig::Kubeconfig;
use super::plan::{
    CaId, FileKind, KUBECONFIG_DIR, PKI_DIR, PkiRequest, Plan, PlanError, SA_KEY, SA_PUB, Usage,
    plan,
};
use super::store::{self, Recovered, STAGING, StoreError, Tree};

/// What `plinth-agent pki` was asked to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PkiOptions {
    /// The root: `pki/` and `kubernetes/` are made below it (`/var/lib/plinth`).
    pub root: PathBuf,
    /// The set wanted.
    pub request: PkiRequest,
    /// The operator's cluster CA, used instead of a new one.
    pub operator_ca: Option<OperatorCa>,
}

/// The files of an operator-supplied cluster CA (PEM).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorCa {
    /// The CA certificate.
    pub cert: PathBuf,
    /// Its private key (PKCS#8, PKCS#1 or SEC1, unencrypted).
    pub key: PathBuf,
}

/// Why `plinth-agent pki` failed.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// The request is invalid.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A file could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The operator's CA cannot be used.
    #[error("the operator's CA: {0}")]
    OperatorCa(String),
    /// A CA or the service-account key is damaged: it is never replaced.
    #[error("{path}: {why}")]
    Refused {
        /// The file (or the pair's stem) under the root.
        path: String,
        /// What is wrong and what to do.
        why: String,
    },
    /// A certificate could not be made.
    #[error("{path}: {source}")]
    Issue {
        /// The file under the root.
        path: String,
        /// Why.
        #[source]
        source: IssueError,
    },
}

/// What happened to one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Made (it was not there).
    Created,
    /// Copied from the operator's CA files.
    Copied,
    /// Kept as it was (its mode corrected, when it had another: the old mode).
    Reused(Option<u32>),
    /// Made again, and why.
    Reissued(String),
}

/// One line of the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
    /// A file of the set (its path under the root).
    File(PathBuf, Outcome),
    /// Something recovery did.
    Recovered(Recovered),
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Line::File(path, outcome) => {
                let path = path.display();
                match outcome {
                    Outcome::Created => write!(f, "created {path}"),
                    Outcome::Copied => write!(f, "copied {path} from the operator's CA"),
                    Outcome::Reused(None) => write!(f, "reused {path}"),
                    Outcome::Reused(Some(old)) => {
                        write!(f, "reused {path} (its mode was {old:04o}, corrected)")
                    }
                    Outcome::Reissued(why) => write!(f, "reissued {path}: {why}"),
                }
            }
            Line::Recovered(Recovered::RemovedStaging) => write!(
                f,
                "removed {STAGING}: an unfinished first run, never used; making the set anew"
            ),
            Line::Recovered(Recovered::Moved(path)) => write!(
                f,
                "moved {} into place: a committed first run, interrupted",
                path.display()
            ),
            Line::Recovered(Recovered::RemovedTemporary(path)) => {
                write!(f, "removed {}: an interrupted replacement", path.display())
            }
        }
    }
}

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// In order.
    pub lines: Vec<Line>,
    /// Warnings (printed to stderr).
    pub warnings: Vec<String>,
}

impl Report {
    fn push(&mut self, line: Line) {
        println!("pki: {line}");
        self.lines.push(line);
    }

    fn file(&mut self, path: PathBuf, outcome: Outcome) {
        self.push(Line::File(path, outcome));
    }

    fn warn(&mut self, text: String) {
        eprintln!("pki: warning: {text}");
        self.warnings.push(text);
    }

    /// How many files had `outcome`'s kind: created (or copied), reused, reissued.
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut counts = (0, 0, 0);
        for line in &self.lines {
            match line {
                Line::File(_, Outcome::Created | Outcome::Copied) => counts.0 += 1,
                Line::File(_, Outcome::Reused(_)) => counts.1 += 1,
                Line::File(_, Outcome::Reissued(_)) => counts.2 += 1,
                Line::Recovered(_) => {}
            }
        }
        counts
    }

    /// The outcome of the file `path` (under the root), if it was part of the run.
    pub fn outcome(&self, path: &str) -> Option<&Outcome> {
        self.lines.iter().find_map(|line| match line {
            Line::File(p, outcome) if p == Path::new(path) => Some(outcome),
            _ => None,
        })
    }
}

/// Runs `plinth-agent pki` once, printing as it goes; what it did.
pub fn run(opts: &PkiOptions) -> Result<Report, PkiError> {
    let started = Instant::now();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let mut report = Report::default();
    execute(opts, now, &mut report)?;
    let (created, reused, reissued) = report.counts();
    println!(
        "pki: {} files in {}: {created} created, {reused} reused, {reissued} reissued ({} ms)",
        created + reused + reissued,
        opts.root.display(),
        started.elapsed().as_millis()
    );
    Ok(report)
}

/// The run at `now` (Unix seconds).
pub fn execute(opts: &PkiOptions, now: i64, report: &mut Report) -> Result<(), PkiError> {
    let plan = plan(&opts.request)?;
    let operator = opts.operator_ca.as_ref().map(load_operator).transpose()?;
    let root = &opts.root;
    store::make_root(root)?;
    for done in store::recover(root)? {
        report.push(Line::Recovered(done));
    }
    let pki = root.join(PKI_DIR);
    if pki.is_dir() && store::holds_no_file(&pki)? {
        store::remove_tree(&pki)?;
    }
    if pki.exists() {
        if let Some(op) = &operator {
            let existing = Tree {
                base: root.clone(),
                staged: false,
            };
            let ca_crt = Path::new(PKI_DIR).join("ca.crt");
            let same = existing
                .read(&ca_crt)?
                .and_then(|bytes| CertInfo::from_pem(&bytes).ok())
                .is_some_and(|info| info.der == op.authority.info.der);
            if !same {
                return Err(PkiError::Refused {
                    path: ca_crt.display().to_string(),
                    why: "the set's cluster CA is not the operator's CA given; a set keeps its \
                          CA (remove pki/ to make a new set with the operator's CA)"
                        .into(),
                });
            }
        }
        let tree = Tree {
            base: root.clone(),
            staged: false,
        };
        Converge {
            plan: &plan,
            tree: &tree,
            now,
            first_run: false,
            report,
            authorities: BTreeMap::new(),
        }
        .run(None)
    } else {
        let tree = Tree {
            base: root.join(STAGING),
            staged: true,
        };
        std::fs::create_dir(&tree.base).map_err(|source| StoreError {
            path: tree.base.clone(),
            source,
        })?;
        store::ensure_mode(&tree.base, store::DIR_MODE)?;
        Converge {
            plan: &plan,
            tree: &tree,
            now,
            first_run: true,
            report,
            authorities: BTreeMap::new(),
        }
        .run(operator)?;
        store::sync_tree(&tree.base)?;
        store::commit(root)?;
        Ok(())
    }
}

/// The operator's CA, read and checked.
struct Operator {
    cert: Vec<u8>,
    key: Vec<u8>,
    authority: Authority,
}

fn load_operator(files: &OperatorCa) -> Result<Operator, PkiError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|e| PkiError::OperatorCa(format!("{}: {e}", path.display())))
    };
    let cert = read(&files.cert)?;
    let key = read(&files.key)?;
    let text = |bytes: &[u8], path: &Path| {
        String::from_utf8(bytes.to_vec())
            .map_err(|_| PkiError::OperatorCa(format!("{}: not PEM text", path.display())))
    };
    let pair = keys::parse(&text(&key, &files.key)?)
        .map_err(|e| PkiError::OperatorCa(format!("{}: {e}", files.key.display())))?;
    let authority = Authority::load(&text(&cert, &files.cert)?, pair)
        .map_err(|e| PkiError::OperatorCa(format!("{}: {e}", files.cert.display())))?;
    Ok(Operator {
        cert,
        key,
        authority,
    })
}

/// One pass over the plan, on one tree.
struct Converge<'a> {
    plan: &'a Plan,
    tree: &'a Tree,
    now: i64,
    /// A new set (in the staging directory): the cluster CA may be made.
    first_run: bool,
    report: &'a mut Report,
    authorities: BTreeMap<CaId, Authority>,
}

/// A fresh key for the file `rel`, or the error naming it.
fn fresh_key(rel: &Path) -> Result<KeyPair, PkiError> {
    keys::generate().map_err(|e| PkiError::Issue {
        path: rel.display().to_string(),
        source: IssueError::Rcgen {
            what: "a new key".into(),
            source: e,
        },
    })
}

fn pki_path(name: &str) -> PathBuf {
    Path::new(PKI_DIR).join(name)
}

impl Converge<'_> {
    /// Goes through the plan in order; `operator` (a first run only) is the cluster CA to copy.
    fn run(mut self, operator: Option<Operator>) -> Result<(), PkiError> {
        if self.plan.control_plane {
            match operator {
                Some(op) => self.copy_operator_ca(op)?,
                None => self.ca(CaId::Cluster)?,
            }
        }
        for ca in self.plan.cas.iter().filter(|c| c.id != CaId::Cluster) {
            self.ca(ca.id)?;
        }
        if self.plan.control_plane {
            self.service_account()?;
        }
        for leaf in &self.plan.leaves {
            let wanted = Wanted {
                subject: &leaf.subject,
                sans: &leaf.sans,
                usage: leaf.usage,
            };
            self.leaf(leaf.stem, leaf.ca, wanted)?;
        }
        for k in &self.plan.kubeconfigs {
            let wanted = Wanted {
                subject: &k.subject,
                sans: &[],
                usage: Usage::Client,
            };
            self.kubeconfig(k.file, &k.server, wanted)?;
        }
        Ok(())
    }

    fn read(&self, rel: &Path) -> Result<Option<Vec<u8>>, PkiError> {
        Ok(self.tree.read(rel)?)
    }

    fn write(&self, rel: &Path, bytes: &[u8], kind: FileKind) -> Result<(), PkiError> {
        Ok(self.tree.write(rel, bytes, kind.mode())?)
    }

    /// Reports a kept file, correcting its mode.
    fn reused(&mut self, rel: PathBuf, kind: FileKind) -> Result<(), PkiError> {
        let old = if self.tree.staged {
            None
        } else {
            self.tree.ensure_mode(&rel, kind.mode())?
        };
        self.report.file(rel, Outcome::Reused(old));
        Ok(())
    }

    fn read_key(&self, rel: &Path) -> Result<(Found<KeyPair>, Option<String>), PkiError> {
        Ok(match self.read(rel)? {
            None => (Found::Missing, None),
            Some(bytes) => match String::from_utf8(bytes) {
                Err(_) => (Found::Unreadable("not PEM text".into()), None),
                Ok(text) => match keys::parse(&text) {
                    Ok(pair) => (Found::Present(pair), Some(text)),
                    Err(e) => (Found::Unreadable(e.to_string()), None),
                },
            },
        })
    }

    fn read_cert(&self, rel: &Path) -> Result<(Found<CertInfo>, Option<String>), PkiError> {
        Ok(match self.read(rel)? {
            None => (Found::Missing, None),
            Some(bytes) => match CertInfo::from_pem(&bytes) {
                Ok(info) => (Found::Present(info), String::from_utf8(bytes).ok()),
                Err(e) => (Found::Unreadable(e.to_string()), None),
            },
        })
    }

    fn copy_operator_ca(&mut self, op: Operator) -> Result<(), PkiError> {
        let (key, crt) = (pki_path("ca.key"), pki_path("ca.crt"));
        self.write(&key, &op.key, FileKind::PrivateKey)?;
        self.write(&crt, &op.cert, FileKind::Certificate)?;
        self.report.file(key, Outcome::Copied);
        self.report.file(crt, Outcome::Copied);
        self.ca_warning(CaId::Cluster, &op.authority.info);
        self.authorities.insert(CaId::Cluster, op.authority);
        Ok(())
    }

    fn ca(&mut self, id: CaId) -> Result<(), PkiError> {
        let spec = id.spec();
        let key_rel = pki_path(&format!("{}.key", spec.stem));
        let crt_rel = pki_path(&format!("{}.crt", spec.stem));
        let (cert, cert_text) = self.read_cert(&crt_rel)?;
        let (key, _) = self.read_key(&key_rel)?;
        // An etcd member's CA is the cluster's: never one of its own.
        let may_create = self.plan.control_plane && (self.first_run || id != CaId::Cluster);
        let verdict = check::check_ca(&cert, &bits(&key), may_create);
        let issue_error = |path: &Path| {
            let path = path.display().to_string();
            move |source| PkiError::Issue { path, source }
        };
        let authority = match verdict {
            CaVerdict::Refuse(why) => {
                return Err(PkiError::Refused {
                    path: format!("{PKI_DIR}/{}.{{crt,key}}", spec.stem),
                    why,
                });
            }
            CaVerdict::Keep => {
                let Found::Present(pair) = key else {
                    unreachable!("kept CAs have their key")
                };
                let text = cert_text.unwrap_or_default();
                let authority = Authority::load(&text, pair).map_err(issue_error(&crt_rel))?;
                self.reused(key_rel, FileKind::PrivateKey)?;
                self.reused(crt_rel, FileKind::Certificate)?;
                authority
            }
            CaVerdict::Create => {
                let pair = fresh_key(&key_rel)?;
                let key_pem = pair.serialize_pem();
                let authority = Authority::create(spec.common_name, pair, self.now)
                    .map_err(issue_error(&crt_rel))?;
                self.write(&key_rel, key_pem.as_bytes(), FileKind::PrivateKey)?;
                self.write(
                    &crt_rel,
                    authority.cert_pem.as_bytes(),
                    FileKind::Certificate,
                )?;
                self.report.file(key_rel, Outcome::Created);
                self.report.file(crt_rel, Outcome::Created);
                authority
            }
            CaVerdict::CertForKey => {
                let Found::Present(pair) = key else {
                    unreachable!("a certificate is made only for a key that is there")
                };
                let authority = Authority::create(spec.common_name, pair, self.now)
                    .map_err(issue_error(&crt_rel))?;
                self.write(
                    &crt_rel,
                    authority.cert_pem.as_bytes(),
                    FileKind::Certificate,
                )?;
                self.reused(key_rel, FileKind::PrivateKey)?;
                self.report.file(
                    crt_rel,
                    Outcome::Reissued("missing; self-signed again for the CA key there".into()),
                );
                authority
            }
        };
        self.ca_warning(id, &authority.info);
        self.authorities.insert(id, authority);
        Ok(())
    }

    fn ca_warning(&mut self, id: CaId, info: &CertInfo) {
        if let Some(why) = check::ca_warning(info, self.now) {
            self.report.warn(format!(
                "{PKI_DIR}/{}.crt {why}: a CA is never replaced here; renew it by hand",
                id.spec().stem
            ));
        }
    }

    fn service_account(&mut self) -> Result<(), PkiError> {
        let (key_rel, pub_rel) = (pki_path(SA_KEY), pki_path(SA_PUB));
        let (key, _) = self.read_key(&key_rel)?;
        let public = match self.read(&pub_rel)? {
            None => Found::Missing,
            Some(bytes) => match public_key_bits(&bytes) {
                Some(bits) => Found::Present(bits),
                None => Found::Unreadable("no PEM public key".into()),
            },
        };
        match check::check_sa(&bits(&key), &public) {
            SaVerdict::Refuse(why) => Err(PkiError::Refused {
                path: format!("{PKI_DIR}/sa.{{key,pub}}"),
                why,
            }),
            SaVerdict::Keep => {
                self.reused(key_rel, FileKind::PrivateKey)?;
                self.reused(pub_rel, FileKind::PublicKey)
            }
            SaVerdict::Create => {
                let pair = fresh_key(&key_rel)?;
                self.write(
                    &key_rel,
                    pair.serialize_pem().as_bytes(),
                    FileKind::PrivateKey,
                )?;
                self.write(
                    &pub_rel,
                    pair.public_key_pem().as_bytes(),
                    FileKind::PublicKey,
                )?;
                self.report.file(key_rel, Outcome::Created);
                self.report.file(pub_rel, Outcome::Created);
                Ok(())
            }
            SaVerdict::PubFromKey(why) => {
                let Found::Present(pair) = key else {
                    unreachable!("sa.pub is derived only from an sa.key that is there")
                };
                self.write(
                    &pub_rel,
                    pair.public_key_pem().as_bytes(),
                    FileKind::PublicKey,
                )?;
                self.reused(key_rel, FileKind::PrivateKey)?;
                self.report.file(pub_rel, Outcome::Reissued(why));
                Ok(())
            }
        }
    }

    /// The certificate as seen against CA `ca`.
    fn seen(&self, cert: Found<CertInfo>, ca: CaId) -> Found<SeenCert> {
        match cert {
            Found::Missing => Found::Missing,
            Found::Unreadable(why) => Found::Unreadable(why),
            Found::Present(info) => {
                let signed_by_ca = info.signed_by(&self.authorities[&ca].info);
                Found::Present(SeenCert { info, signed_by_ca })
            }
        }
    }

    fn leaf(&mut self, stem: &str, ca: CaId, wanted: Wanted<'_>) -> Result<(), PkiError> {
        let key_rel = pki_path(&format!("{stem}.key"));
        let crt_rel = pki_path(&format!("{stem}.crt"));
        let (cert, _) = self.read_cert(&crt_rel)?;
        let cert = self.seen(cert, ca);
        let (key, _) = self.read_key(&key_rel)?;
        match check::check_credentials(wanted, &cert, &bits(&key), self.now) {
            Verdict::Keep => {
                self.reused(key_rel, FileKind::PrivateKey)?;
                self.reused(crt_rel, FileKind::Certificate)
            }
            Verdict::Issue { new_key, reasons } => {
                let (pair, key_outcome) = self.key_for(key, new_key, &key_rel)?;
                let cert_pem = self.authorities[&ca]
                    .issue(wanted.subject, wanted.sans, wanted.usage, &pair, self.now)
                    .map_err(|source| PkiError::Issue {
                        path: crt_rel.display().to_string(),
                        source,
                    })?;
                if let Some(outcome) = &key_outcome {
                    self.write(
                        &key_rel,
                        pair.serialize_pem().as_bytes(),
                        FileKind::PrivateKey,
                    )?;
                    self.report.file(key_rel, outcome.clone());
                } else {
                    self.reused(key_rel, FileKind::PrivateKey)?;
                }
                self.write(&crt_rel, cert_pem.as_bytes(), FileKind::Certificate)?;
                let outcome = if cert.is_missing() {
                    Outcome::Created
                } else {
                    Outcome::Reissued(reasons.join("; "))
                };
                self.report.file(crt_rel, outcome);
                Ok(())
            }
        }
    }

    /// The key to issue with: the one found, or a new one (and how to report writing it).
    fn key_for(
        &self,
        found: Found<KeyPair>,
        new_key: bool,
        rel: &Path,
    ) -> Result<(KeyPair, Option<Outcome>), PkiError> {
        match found {
            Found::Present(pair) if !new_key => Ok((pair, None)),
            found => {
                let pair = fresh_key(rel)?;
                let outcome = match found {
                    Found::Missing => Outcome::Created,
                    Found::Unreadable(why) => Outcome::Reissued(format!("unreadable ({why})")),
                    Found::Present(_) => Outcome::Reissued("replaced".into()),
                };
                Ok((pair, Some(outcome)))
            }
        }
    }

    fn kubeconfig(&mut self, file: &str, server: &str, wanted: Wanted<'_>) -> Result<(), PkiError> {
        let rel = Path::new(KUBECONFIG_DIR).join(file);
        let existing = self.read(&rel)?.map(|bytes| {
            let text = String::from_utf8(bytes).map_err(|_| "not text".to_owned())?;
            Kubeconfig::parse(&text).map_err(|e| e.to_string())
        });
        let cluster = &self.authorities[&CaId::Cluster];
        let found = match &existing {
            None => Found::Missing,
            Some(Err(why)) => Found::Unreadable(why.clone()),
            Some(Ok(k)) => {
                let cert = match CertInfo::from_pem(k.cert_pem.as_bytes()) {
                    Ok(info) => Found::Present(info),
                    Err(e) => Found::Unreadable(e.to_string()),
                };
                Found::Present(SeenKubeconfig {
                    server: k.server.clone(),
                    ca_matches: k.ca_pem == cluster.cert_pem,
                    cert: self.seen(cert, CaId::Cluster),
                    key: match keys::parse(&k.key_pem) {
                        Ok(pair) => Found::Present(keys::public_key_bits(&pair).to_vec()),
                        Err(e) => Found::Unreadable(e.to_string()),
                    },
                })
            }
        };
        let existing = existing.and_then(Result::ok);
        let render = |cert_pem: String, key_pem: String| Kubeconfig {
            server: server.to_owned(),
            ca_pem: cluster.cert_pem.clone(),
            user: wanted.subject.common_name.clone(),
            cert_pem,
            key_pem,
        };
        let (text, outcome) = match check::check_kubeconfig(wanted, server, &found, self.now) {
            KubeconfigVerdict::Keep => return self.reused(rel, FileKind::Kubeconfig),
            KubeconfigVerdict::Rewrite(reasons) => {
                let k = existing.expect("a kubeconfig rewritten was read");
                (
                    render(k.cert_pem, k.key_pem).render(),
                    Outcome::Reissued(reasons.join("; ")),
                )
            }
            KubeconfigVerdict::Issue { new_key, reasons } => {
                let kept = existing
                    .filter(|_| !new_key)
                    .and_then(|k| keys::parse(&k.key_pem).ok().map(|pair| (pair, k.key_pem)));
                let (pair, key_pem) = match kept {
                    Some(kept) => kept,
                    None => {
                        let pair = fresh_key(&rel)?;
                        let pem = pair.serialize_pem();
                        (pair, pem)
                    }
                };
                let cert_pem = cluster
                    .issue(wanted.subject, &[], Usage::Client, &pair, self.now)
                    .map_err(|source| PkiError::Issue {
                        path: rel.display().to_string(),
                        source,
                    })?;
                let outcome = if found.is_missing() {
                    Outcome::Created
                } else {
                    Outcome::Reissued(reasons.join("; "))
                };
                (render(cert_pem, key_pem).render(), outcome)
            }
        };
        self.write(&rel, text.as_bytes(), FileKind::Kubeconfig)?;
        self.report.file(rel, outcome);
        Ok(())
    }
}

/// The public halves of a key found.
fn bits(key: &Found<KeyPair>) -> Found<Vec<u8>> {
    match key {
        Found::Missing => Found::Missing,
        Found::Unreadable(why) => Found::Unreadable(why.clone()),
        Found::Present(pair) => Found::Present(keys::public_key_bits(pair).to_vec()),
    }
}

/// The key bits of a PEM `PUBLIC KEY` (SubjectPublicKeyInfo).
fn public_key_bits(pem_text: &[u8]) -> Option<Vec<u8>> {
    let block = pem::parse_many(pem_text)
        .ok()?
        .into_iter()
        .find(|b| b.tag() == "PUBLIC KEY")?;
    let (_, spki) = SubjectPublicKeyInfo::from_der(block.contents()).ok()?;
    Some(spki.subject_public_key.data.to_vec())
}
