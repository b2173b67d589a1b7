//! `plinth-agent cluster prep`: everything a cluster node's services need before the first of
//! them starts, run by PID 1 as the `cluster-prep` oneshot on every boot. It reads the
//! cluster part of the machine config PID 1 wrote, names the node (its hostname), waits for the
//! address it advertises ([`address`]), keeps the join secrets on the state partition (`<root>/cluster`, [`node::STATE_DIR`]) (the
//! config's, or on a first boot without a token one it makes), makes or checks the PKI
//! ([`crate::pki`]; a joiner first joins, [`super::joiner`]), and writes [`node::plan`]'s argv and config files under [`node::RUN_DIR`],
//! plus `node.json` for `plinthctl cluster`.
//!
//! A later boot finds the same PKI, token and etcd data and only writes the argv again (with the
//! address of this boot). Nothing secret is printed.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use plinth_config::MachineConfig;
use ring::rand::{SecureRandom, SystemRandom};

use super::address;
use super::joiner::Joiner;
use super::node::{self, EtcdStart, NodeFacts, RUN_DIR};
use super::report::NodeInfo;
use super::token::BootstrapToken;
use crate::pki::{self, store};

/// Where PID 1 writes the cluster part of the machine config.
pub const DEFAULT_CONFIG: &str = "/run/plinth/cluster.yaml";

/// What `prep` is asked.
#[derive(Clone, Debug)]
pub struct PrepOptions {
    /// The machine config (the cluster part is enough).
    pub config: PathBuf,
    /// The state root: `pki/`, `kubernetes/`, `cluster/` below it.
    pub root: PathBuf,
    /// Where the argv and configs go.
    pub run_dir: PathBuf,
    /// How long to wait for an address to advertise.
    pub wait: Duration,
}

impl Default for PrepOptions {
    fn default() -> Self {
        Self {
            config: DEFAULT_CONFIG.into(),
            root: pki::DEFAULT_ROOT.into(),
            run_dir: RUN_DIR.into(),
            wait: Duration::from_secs(120),
        }
    }
}

/// Runs `prep`.
pub fn run(options: &PrepOptions) -> anyhow::Result<()> {
    let parsed = plinth_config::load_path(&options.config)
        .map_err(|d| anyhow::anyhow!("{d}"))
        .with_context(|| format!("reading {}", options.config.display()))?;
    let config = parsed.config;
    let name = node_name()?;
    let address = wait_for_address(&config, options.wait)?;
    println!("cluster prep: node {name}, advertising {address}");

    let state = options.root.join("cluster");
    store::make_root(&state).context("making the cluster state directory")?;
    let token_file = token_file(&config, &state)?;
    let certificate_key_file = certificate_key_file(&config, &state)?;
    std::fs::create_dir_all(&options.run_dir)
        .with_context(|| format!("making {}", options.run_dir.display()))?;
    let operator_ca = operator_ca(&config, &options.run_dir)?;
    let cluster = &config.plinth.cluster;

    let runtime = super::client::runtime()?;
    let joiner = cluster.is_joiner().then(|| Joiner {
        config: &config,
        name: &name,
        address,
        root: &options.root,
        state: &state,
        run_dir: &options.run_dir,
        token_file: &token_file,
        certificate_key_file: certificate_key_file.as_deref(),
    });
    if let Some(joiner) = &joiner {
        runtime.block_on(joiner.before_pki())?;
    }

    // A control plane's whole set; an agent running an etcd member, etcd's certificates.
    if cluster.is_control_plane() || cluster.etcd_member() {
        let k = &cluster.kubernetes;
        let report = pki::run(&pki::PkiOptions {
            root: options.root.clone(),
            request: pki::PkiRequest {
                node_name: name.clone(),
                node_addresses: vec![address],
                cluster_domain: k.cluster_domain.clone(),
                service_ip: pki::first_service_ip(&k.service_cidr)?,
                cert_sans: k.cert_sans.clone(),
                apiserver_url: apiserver_url(address),
                etcd: cluster.etcd_member(),
                control_plane: cluster.is_control_plane(),
            },
            operator_ca,
        })
        .context("the cluster PKI")?;
        let (made, kept, _) = report.counts();
        println!("cluster prep: PKI: {made} files made, {kept} kept");
    }

    let etcd = match &joiner {
        Some(joiner) if cluster.etcd_member() => runtime.block_on(joiner.etcd_member())?,
        _ => EtcdStart::New,
    };
    if let Some(joiner) = &joiner {
        joiner.done();
    }

    let plan = node::plan(
        &config,
        &NodeFacts {
            name: name.clone(),
            address,
            root: options.root.clone(),
            token_file,
            certificate_key_file,
            etcd,
        },
    )?;
    for (service, argv) in &plan.argv {
        let text = serde_json::to_string(argv)? + "\n";
        write(&options.run_dir.join(argv_file(service)), &text)?;
    }
    for (file, text) in &plan.files {
        write(&options.run_dir.join(file), text)?;
    }
    // The type `cluster status` reads it back with.
    let node = NodeInfo {
        node_name: name.clone(),
        address: address.to_string(),
        role: config.plinth.cluster.role.as_str().to_owned(),
    };
    write(
        &options.run_dir.join(NODE_FILE),
        &(serde_json::to_string(&node)? + "\n"),
    )?;
    println!(
        "cluster prep: {} services prepared in {}",
        plan.argv.len(),
        options.run_dir.display()
    );
    Ok(())
}

/// The node's name, address and role for `plinthctl cluster`, under the run directory.
pub const NODE_FILE: &str = "node.json";

/// The argv file of a service.
pub fn argv_file(service: &str) -> String {
    format!("{service}.argv")
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    store::replace(path, text.as_bytes(), 0o600)
        .with_context(|| format!("writing {}", path.display()))
}

/// The node's name: its hostname (set by PID 1's identity phase), lower case.
fn node_name() -> anyhow::Result<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .context("reading the hostname")?
        .trim()
        .to_lowercase();
    anyhow::ensure!(
        !name.is_empty() && name != "(none)",
        "the node has no hostname"
    );
    Ok(name)
}

/// `https://ADDRESS:6443`, IPv6 bracketed.
fn apiserver_url(address: IpAddr) -> String {
    format!("https://{}:6443", super::flags::url_host(address))
}

/// Polls the machine's addresses until one can be advertised, saying once why it waits.
fn wait_for_address(config: &MachineConfig, wait: Duration) -> anyhow::Result<IpAddr> {
    let setting = config.plinth.cluster.advertise_address.as_deref();
    let ipv6 = config.plinth.cluster.kubernetes.service_cidr.contains(':');
    let runtime = super::client::runtime()?;
    runtime.block_on(async {
        let (connection, handle, _) =
            rtnetlink::new_connection().context("opening a netlink socket")?;
        tokio::spawn(connection);
        let deadline = Instant::now() + wait;
        let mut said = None;
        loop {
            let state = crate::net::observe::observe(
                &handle,
                Path::new(crate::net::observe::SYS_CLASS_NET),
            )
            .await?;
            match address::choose(setting, ipv6, &state) {
                Ok(ip) => return Ok(ip),
                Err(e) if Instant::now() >= deadline => return Err(e.into()),
                Err(e) => {
                    let line = e.to_string();
                    if said.as_ref() != Some(&line) {
                        println!("cluster prep: waiting: {line}");
                        said = Some(line);
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    })
}

/// The bootstrap token's file: the config's `token_file`; the config's `token`, kept in
/// `<state>/token`; else the token kept from an earlier boot, or a new one.
fn token_file(config: &MachineConfig, state: &Path) -> anyhow::Result<PathBuf> {
    let cluster = &config.plinth.cluster;
    if let Some(file) = &cluster.token_file {
        BootstrapToken::read(Path::new(file))
            .with_context(|| format!("plinth.cluster.token_file {file}"))?;
        return Ok(file.into());
    }
    let kept = state.join("token");
    match &cluster.token {
        Some(token) => keep(&kept, token)?,
        None if BootstrapToken::read(&kept).is_ok() => {}
        None => {
            keep(&kept, &new_token()?)?;
            println!(
                "cluster prep: no plinth.cluster.token: made one for joining nodes, kept in {} (0600)",
                kept.display()
            );
        }
    }
    Ok(kept)
}

/// The certificate key's file, when the config gives one.
fn certificate_key_file(config: &MachineConfig, state: &Path) -> anyhow::Result<Option<PathBuf>> {
    let cluster = &config.plinth.cluster;
    if let Some(file) = &cluster.certificate_key_file {
        return Ok(Some(file.into()));
    }
    let Some(key) = &cluster.certificate_key else {
        return Ok(None);
    };
    let kept = state.join("certificate-key");
    keep(&kept, key)?;
    Ok(Some(kept))
}

/// The operator's CA, written where `pki` reads it.
fn operator_ca(config: &MachineConfig, run_dir: &Path) -> anyhow::Result<Option<pki::OperatorCa>> {
    let Some(ca) = &config.plinth.cluster.ca else {
        return Ok(None);
    };
    let (Some(cert), Some(key)) = (&ca.cert, &ca.key) else {
        return Ok(None);
    };
    let paths = pki::OperatorCa {
        cert: run_dir.join("operator-ca.crt"),
        key: run_dir.join("operator-ca.key"),
    };
    write(&paths.cert, cert)?;
    write(&paths.key, key)?;
    Ok(Some(paths))
}

/// Writes `value` to `path` (0600) unless it already holds it.
fn keep(path: &Path, value: &str) -> anyhow::Result<()> {
    let line = format!("{}\n", value.trim());
    if std::fs::read_to_string(path).is_ok_and(|t| t == line) {
        return Ok(());
    }
    write(path, &line)
}

/// A new bootstrap token, `[a-z0-9]{6}.[a-z0-9]{16}` from the system's random source.
fn new_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 22];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| anyhow::anyhow!("no random numbers for a token"))?;
    Ok(token_from(&bytes))
}

/// The token spelled from 22 random bytes (a tiny bias towards the first letters is harmless
/// at 36 symbols and 110 bits).
fn token_from(bytes: &[u8; 22]) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let symbol = |b: &u8| ALPHABET[usize::from(*b) % ALPHABET.len()] as char;
    let id: String = bytes[..6].iter().map(symbol).collect();
    let secret: String = bytes[6..].iter().map(symbol).collect();
    format!("{id}.{secret}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_tokens_have_kubeadms_shape() {
        let token = token_from(&[7; 22]);
        assert!(BootstrapToken::parse(&token).is_ok(), "{token}");
        assert!(BootstrapToken::parse(&new_token().unwrap()).is_ok());
        assert_ne!(new_token().unwrap(), new_token().unwrap());
    }

    #[test]
    fn ipv6_apiservers_are_bracketed() {
        assert_eq!(
            apiserver_url("fd00::1".parse().unwrap()),
            "https://[fd00::1]:6443"
        );
        assert_eq!(
            apiserver_url("10.0.0.1".parse().unwrap()),
            "https://10.0.0.1:6443"
        );
    }

    #[test]
    fn a_config_token_is_kept_and_a_missing_one_made_once() {
        let dir = std::env::temp_dir().join(format!("plinth-prep-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let none = MachineConfig::default();
        let first = token_file(&none, &dir).unwrap();
        let made = std::fs::read_to_string(&first).unwrap();
        assert_eq!(token_file(&none, &dir).unwrap(), first);
        assert_eq!(std::fs::read_to_string(&first).unwrap(), made, "made once");
        let mut given = MachineConfig::default();
        given.plinth.cluster.token = Some("abcdef.0123456789abcdef".into());
        token_file(&given, &dir).unwrap();
        assert_eq!(
            std::fs::read_to_string(&first).unwrap(),
            "abcdef.0123456789abcdef\n"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&first).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
