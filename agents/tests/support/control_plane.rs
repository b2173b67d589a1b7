//! A throwaway Kubernetes control plane on loopback, for host tests of the image's own binaries:
//! finding etcd and the multicall `kubernetes` binary (in the image tree, holding the image lock,
//! or where `PLINTH_ETCD_BIN` / `PLINTH_KUBERNETES_BIN` point), the PKI and kubeconfigs a node
//! has (made by the product's own `plinth_agents::pki`, kubeadm's layout), the component processes
//! with their logs, and killing them all on drop.
//!
//! Everything lives in one directory the caller names and is kept after the run: `pki/`,
//! `kubernetes/*.conf` kubeconfigs, `etcd-data/`, and one `<component>.log` per process (its
//! command line, then its stdout and stderr).

use std::fmt::Write as _;
use std::fs::File;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use plinth_agents::cluster::flags;
use plinth_agents::pki;
use qemu_tests::image::ImageLock;
use qemu_tests::paths::{image_dir, image_tree};

/// The service range the apiserver is given; its first address is the `kubernetes` service.
pub const SERVICE_CIDR: &str = "10.96.0.0/12";
/// The pod range the controller-manager allocates node CIDRs from.
pub const POD_CIDR: &str = "10.244.0.0/16";
/// How long the apiserver may take to report `/readyz` ok (15–60 s on a small machine).
pub const APISERVER_READY: Duration = Duration::from_secs(300);
/// How long etcd, the controller manager and the scheduler may take to report healthy.
pub const COMPONENT_HEALTHY: Duration = Duration::from_secs(120);
/// Lines of a component's log quoted when it fails.
const LOG_TAIL: usize = 40;

/// A test cannot run here: with `CI=true` that fails the test, otherwise it prints a line
/// starting `SKIPPED` and the caller returns.
pub fn unavailable(test: &str, reason: &str) {
    qemu_tests::skip::unavailable(test, reason);
}

/// One of the image's programs, with the image lock held while it is in use when it comes from
/// the image tree.
pub struct Binary {
    pub path: PathBuf,
    _lock: Option<ImageLock>,
}

impl Binary {
    /// The image's etcd (`usr/bin/etcd`), or `PLINTH_ETCD_BIN`.
    pub fn etcd(test: &str) -> Option<Self> {
        Self::for_test(test, "PLINTH_ETCD_BIN", "usr/bin/etcd")
    }

    /// The image's multicall Kubernetes binary (`usr/bin/kubernetes`), or `PLINTH_KUBERNETES_BIN`.
    pub fn kubernetes(test: &str) -> Option<Self> {
        Self::for_test(test, "PLINTH_KUBERNETES_BIN", "usr/bin/kubernetes")
    }

    /// The program, or `None` after [`unavailable`] said why not.
    fn for_test(test: &str, var: &str, in_tree: &str) -> Option<Self> {
        match Self::find(var, in_tree) {
            Ok(binary) => Some(binary),
            Err(reason) => {
                unavailable(test, &reason);
                None
            }
        }
    }

    fn find(var: &str, in_tree: &str) -> Result<Self, String> {
        if let Some(path) = std::env::var_os(var) {
            let path = PathBuf::from(path);
            // A wrong override is a mistake to report, not a reason to skip.
            assert!(
                is_executable(&path),
                "{var}={} is not an executable file",
                path.display()
            );
            return Ok(Self { path, _lock: None });
        }
        let tree = image_tree();
        let build = format!("`cargo xtask image --dev` builds it, or set {var} to a built binary");
        if !tree.is_dir() {
            return Err(format!("no image tree at {}: {build}", tree.display()));
        }
        let dir = image_dir();
        let lock =
            ImageLock::shared(&dir).map_err(|e| format!("locking {}: {e}", dir.display()))?;
        let path = tree.join(in_tree);
        if !is_executable(&path) {
            return Err(format!("the image tree has no {}: {build}", path.display()));
        }
        Ok(Self {
            path,
            _lock: Some(lock),
        })
    }
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Why `curl` (the health probe of etcd, the controller manager and the scheduler) cannot run.
pub fn curl_missing() -> Option<String> {
    match Command::new("curl").arg("--version").output() {
        Ok(out) if out.status.success() => None,
        _ => Some("`curl` is not installed (the health probes use it); install curl".into()),
    }
}

/// A certificate and its private key, as files.
#[derive(Clone, Debug)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The node's name in the test PKI (etcd's member name, the apiserver's SAN).
pub const NODE_NAME: &str = "plinth-test";

/// The files of the test PKI: kubeadm's `pki/` under the control plane's directory, made by
/// `plinth_agents::pki` exactly as on a node; the kubeconfigs are in `kubernetes/` beside it.
#[derive(Clone, Debug)]
pub struct Pki {
    pub ca: CertFiles,
    pub etcd_ca: CertFiles,
    pub etcd_server: CertFiles,
    pub etcd_healthcheck_client: CertFiles,
    pub apiserver_etcd_client: CertFiles,
    pub apiserver: CertFiles,
    pub apiserver_kubelet_client: CertFiles,
    pub front_proxy_ca: CertFiles,
    pub front_proxy_client: CertFiles,
    /// The service-account signing key pair: `sa.key` (private) and `sa.pub` (public).
    pub sa_key: PathBuf,
    pub sa_pub: PathBuf,
    /// `kubernetes/`: `admin.conf`, `super-admin.conf`, `controller-manager.conf`, ….
    pub kubeconfigs: PathBuf,
}

impl Pki {
    /// Makes the node's PKI and kubeconfigs in `dir` (`pki/`, `kubernetes/`) for a node on
    /// loopback whose apiserver is `apiserver_url`; `service_ip` is the first address of the
    /// service range, which the apiserver's serving certificate names.
    pub fn create(dir: &Path, service_ip: IpAddr, apiserver_url: &str) -> Self {
        pki::run(&pki::PkiOptions {
            root: dir.to_path_buf(),
            request: pki::PkiRequest {
                node_name: NODE_NAME.into(),
                node_addresses: vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
                cluster_domain: "cluster.local".into(),
                service_ip,
                cert_sans: Vec::new(),
                apiserver_url: apiserver_url.into(),
                etcd: true,
                control_plane: true,
            },
            operator_ca: None,
        })
        .unwrap_or_else(|e| panic!("making the PKI in {}: {e}", dir.display()));
        let pki = dir.join(pki::plan::PKI_DIR);
        let pair = |stem: &str| CertFiles {
            cert: pki.join(format!("{stem}.crt")),
            key: pki.join(format!("{stem}.key")),
        };
        Self {
            ca: pair("ca"),
            etcd_ca: pair("etcd/ca"),
            etcd_server: pair("etcd/server"),
            etcd_healthcheck_client: pair("etcd/healthcheck-client"),
            apiserver_etcd_client: pair("apiserver-etcd-client"),
            apiserver: pair("apiserver"),
            apiserver_kubelet_client: pair("apiserver-kubelet-client"),
            front_proxy_ca: pair("front-proxy-ca"),
            front_proxy_client: pair("front-proxy-client"),
            sa_key: pki.join(pki::plan::SA_KEY),
            sa_pub: pki.join(pki::plan::SA_PUB),
            kubeconfigs: dir.join(pki::plan::KUBECONFIG_DIR),
        }
    }

    /// The kubeconfig `name` (`controller-manager.conf`).
    pub fn kubeconfig(&self, name: &str) -> PathBuf {
        self.kubeconfigs.join(name)
    }
}

/// The first address of an IPv4 range, as `--service-cluster-ip-range` gives the `kubernetes`
/// service: `10.96.0.0/12` → `10.96.0.1`.
pub fn first_service_ip(cidr: &str) -> IpAddr {
    pki::first_service_ip(cidr).unwrap_or_else(|e| panic!("{e}"))
}

/// `n` distinct free TCP ports on 127.0.0.1 (held together while chosen, then released).
pub fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<TcpListener> = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("binding a free port on 127.0.0.1"))
        .collect();
    std::array::from_fn(|i| listeners[i].local_addr().expect("a bound address").port())
}

/// The last `n` lines of a log file.
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_else(|e| format!("({}: {e})", path.display()));
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A started component, killed (and reaped) on drop.
pub struct Process {
    pub name: String,
    pub log: PathBuf,
    child: Child,
}

impl Process {
    /// Runs `program args…` with stdin closed and stdout and stderr appended to `<dir>/<name>.log`,
    /// after a first line holding the command.
    pub fn spawn(name: &str, dir: &Path, program: &Path, args: &[String]) -> Self {
        let log = dir.join(format!("{name}.log"));
        let mut file = File::create(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
        writeln!(file, "$ {} {}", program.display(), args.join(" ")).expect("writing the log");
        let err = file.try_clone().expect("duplicating the log file");
        let child = Command::new(program)
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name} ({}): {e}", program.display()));
        Self {
            name: name.into(),
            log,
            child,
        }
    }

    /// Panics, quoting its log, when the process has exited.
    fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "{} exited ({status}); the end of {}:\n{}",
                self.name,
                self.log.display(),
                tail(&self.log, LOG_TAIL)
            );
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Ports of the control plane, all on 127.0.0.1.
#[derive(Clone, Copy, Debug)]
pub struct Ports {
    pub etcd_client: u16,
    pub etcd_peer: u16,
    /// etcd's plain-HTTP `/metrics` and `/health`.
    pub etcd_metrics: u16,
    pub apiserver: u16,
    pub controller_manager: u16,
    pub scheduler: u16,
}

/// etcd and kube-apiserver running (others added by the `start_*` methods); every process is
/// killed when this is dropped, also when the test panics.
pub struct ControlPlane {
    pub dir: PathBuf,
    pub pki: Pki,
    pub ports: Ports,
    /// `super-admin.conf` (`system:masters`): `admin.conf`'s group `kubeadm:cluster-admins` has
    /// no ClusterRoleBinding in a bare control plane.
    pub admin_conf: PathBuf,
    /// In start order; killed in reverse.
    processes: Vec<Process>,
    kubernetes: Binary,
    etcd: Binary,
}

impl ControlPlane {
    /// For test `test`: finds etcd, the Kubernetes binary and curl (or returns `None` after
    /// [`unavailable`] said why), empties `target/<dir>` and starts the control plane there.
    pub fn for_test(test: &str, dir: &str) -> Option<Self> {
        let etcd = Binary::etcd(test)?;
        let kubernetes = Binary::kubernetes(test)?;
        if let Some(reason) = curl_missing() {
            unavailable(test, &reason);
            return None;
        }
        let dir = qemu_tests::paths::RunDir::fresh_at(qemu_tests::paths::target_dir().join(dir))
            .expect("emptying the control plane's directory");
        eprintln!("control plane files and logs: {}", dir.path().display());
        Some(Self::start(dir.path(), etcd, kubernetes))
    }

    /// Makes the PKI and kubeconfigs in `dir` (which should be empty), starts etcd and waits for
    /// it to be healthy, then starts kube-apiserver and waits for `/readyz`.
    pub fn start(dir: &Path, etcd: Binary, kubernetes: Binary) -> Self {
        let [
            etcd_client,
            etcd_peer,
            etcd_metrics,
            apiserver,
            controller_manager,
            scheduler,
        ] = free_ports();
        let ports = Ports {
            etcd_client,
            etcd_peer,
            etcd_metrics,
            apiserver,
            controller_manager,
            scheduler,
        };
        let server = format!("https://127.0.0.1:{}", ports.apiserver);
        let pki = Pki::create(dir, first_service_ip(SERVICE_CIDR), &server);
        let admin_conf = pki.kubeconfig("super-admin.conf");
        let mut plane = Self {
            dir: dir.to_path_buf(),
            pki,
            ports,
            admin_conf,
            processes: Vec::new(),
            kubernetes,
            etcd,
        };
        plane.start_etcd();
        plane.start_apiserver();
        plane
    }

    /// What a node with this control plane's settings runs its components with
    /// (`plinth_agents::cluster::flags`), on loopback ports: the flags under test are the
    /// product's. Only what a test needs differently is added: the free ports of the
    /// controllers, no leader election, certificate directories under the test's.
    fn flags(&self) -> flags::ControlPlane {
        let dir = |name: &str| format!("--cert-dir={}", self.dir.join(name).display());
        flags::ControlPlane {
            node_name: NODE_NAME.into(),
            address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            cluster_name: "plinth-test".into(),
            etcd_client_port: self.ports.etcd_client,
            etcd_peer_port: self.ports.etcd_peer,
            etcd_metrics_port: self.ports.etcd_metrics,
            apiserver_port: self.ports.apiserver,
            service_cidr: SERVICE_CIDR.into(),
            pod_cidr: POD_CIDR.into(),
            cluster_domain: "cluster.local".into(),
            paths: flags::Paths {
                pki: self.dir.join("pki"),
                kubeconfigs: self.pki.kubeconfigs.clone(),
                etcd_data: self.dir.join("etcd-data"),
            },
            extra: flags::ExtraArgs {
                apiserver: vec!["--bind-address=127.0.0.1".into(), dir("apiserver-certs")],
                controller_manager: vec![
                    format!("--secure-port={}", self.ports.controller_manager),
                    dir("controller-manager-certs"),
                    "--leader-elect=false".into(),
                ],
                scheduler: vec![
                    format!("--secure-port={}", self.ports.scheduler),
                    dir("scheduler-certs"),
                    "--leader-elect=false".into(),
                ],
                etcd: Vec::new(),
            },
        }
    }

    fn start_etcd(&mut self) {
        let client = format!("https://127.0.0.1:{}", self.ports.etcd_client);
        // The node's own command line, plus no fsync: a test's data is thrown away.
        let mut args = self.flags().etcd();
        args.push("--unsafe-no-fsync=true".into());
        let etcd = Process::spawn("etcd", &self.dir, &self.etcd.path, &args);
        self.processes.push(etcd);
        let client_cert = self.pki.etcd_healthcheck_client.clone();
        let ca = self.pki.etcd_ca.cert.clone();
        let took = self.wait_until("etcd /health", "etcd", COMPONENT_HEALTHY, |_| {
            let body = curl(&[
                "--cacert",
                &ca.to_string_lossy(),
                "--cert",
                &client_cert.cert.to_string_lossy(),
                "--key",
                &client_cert.key.to_string_lossy(),
                &format!("{client}/health"),
            ])?;
            if body.contains(r#""health":"true""#) {
                Ok(())
            } else {
                Err(body)
            }
        });
        eprintln!("etcd healthy after {:.1} s", took.as_secs_f64());
    }

    fn start_apiserver(&mut self) {
        let mut args = vec!["kube-apiserver".to_string()];
        args.extend(self.flags().apiserver());
        let apiserver = Process::spawn("kube-apiserver", &self.dir, &self.kubernetes.path, &args);
        self.processes.push(apiserver);
        let took = self.wait_until(
            "kube-apiserver /readyz",
            "kube-apiserver",
            APISERVER_READY,
            |plane| {
                let out = plane.kubectl(&["get", "--raw", "/readyz", "--request-timeout=5s"])?;
                if out.trim() == "ok" { Ok(()) } else { Err(out) }
            },
        );
        eprintln!(
            "kube-apiserver /readyz ok after {:.1} s",
            took.as_secs_f64()
        );
    }

    /// Starts kube-controller-manager with kubeadm's flags (the CA signs CSRs, the
    /// service-account key signs tokens), not waiting for it.
    pub fn start_controller_manager(&mut self) {
        let mut args = vec!["kube-controller-manager".to_string()];
        args.extend(self.flags().controller_manager());
        let kcm = Process::spawn(
            "kube-controller-manager",
            &self.dir,
            &self.kubernetes.path,
            &args,
        );
        self.processes.push(kcm);
    }

    /// Starts kube-scheduler with kubeadm's flags, not waiting for it.
    pub fn start_scheduler(&mut self) {
        let mut args = vec!["kube-scheduler".to_string()];
        args.extend(self.flags().scheduler());
        let scheduler = Process::spawn("kube-scheduler", &self.dir, &self.kubernetes.path, &args);
        self.processes.push(scheduler);
    }

    /// Waits until the component `name` answers `ok` on `https://127.0.0.1:<port>/healthz`
    /// (always allowed without credentials; its serving certificate is self-signed), and returns
    /// how long that took.
    pub fn wait_healthz(&mut self, name: &str, port: u16) -> Duration {
        let url = format!("https://127.0.0.1:{port}/healthz");
        self.wait_until(&format!("{name} /healthz"), name, COMPONENT_HEALTHY, |_| {
            let body = curl(&["--insecure", &url])?;
            if body.trim() == "ok" {
                Ok(())
            } else {
                Err(body)
            }
        })
    }

    /// Runs the built kubectl as `kubernetes-super-admin` (`system:masters`); its stdout, or why
    /// not.
    pub fn kubectl(&self, args: &[&str]) -> Result<String, String> {
        self.kubectl_as(&self.admin_conf, args)
    }

    /// Runs the built kubectl with another kubeconfig; its stdout, or why not.
    pub fn kubectl_as(&self, kubeconfig: &Path, args: &[&str]) -> Result<String, String> {
        let out = Command::new(&self.kubernetes.path)
            .arg("kubectl")
            .arg(format!("--kubeconfig={}", kubeconfig.display()))
            .arg(format!(
                "--cache-dir={}",
                self.dir.join("kube-cache").display()
            ))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("running kubectl: {e}"))?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            Ok(stdout)
        } else {
            Err(format!(
                "kubectl {}: {}\n{}{stdout}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// Polls `probe` every second until it succeeds, failing the test (with the end of `log_of`'s
    /// log) at `timeout` or as soon as any process of the plane exits.
    fn wait_until(
        &mut self,
        what: &str,
        log_of: &str,
        timeout: Duration,
        mut probe: impl FnMut(&Self) -> Result<(), String>,
    ) -> Duration {
        let start = Instant::now();
        loop {
            for process in &mut self.processes {
                process.assert_running();
            }
            let last = match probe(self) {
                Ok(()) => return start.elapsed(),
                Err(why) => why,
            };
            if start.elapsed() > timeout {
                let log = self.dir.join(format!("{log_of}.log"));
                let mut message = format!(
                    "{what}: not ready after {} s; last answer:\n{}\n",
                    timeout.as_secs(),
                    last.trim()
                );
                let _ = write!(
                    message,
                    "the end of {}:\n{}",
                    log.display(),
                    tail(&log, LOG_TAIL)
                );
                panic!("{message}");
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        while let Some(process) = self.processes.pop() {
            drop(process);
        }
    }
}

/// `curl -s` of one URL (never through a proxy, 5 s at most): the body, or why not.
pub fn curl(args: &[&str]) -> Result<String, String> {
    let out = Command::new("curl")
        .args([
            "--silent",
            "--show-error",
            "--noproxy",
            "*",
            "--max-time",
            "5",
        ])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running curl: {e}"))?;
    let body = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(body)
    } else {
        Err(format!(
            "curl {}: {}\n{}{body}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}
