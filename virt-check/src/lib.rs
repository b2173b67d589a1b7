//! `plinth-virt-check`'s report and the pure reading of libvirt's answers, shared with the static
//! `plinth-agent` (which builds this crate without the `libvirt` feature, so it never links the C
//! libvirt): the binary asks the daemon, prints one [`Outcome`] as JSON, and the agent reads it.
//!
//! Why a separate binary: the `virt` crate binds the C libvirt dynamically (libvirt.so.0 and its
//! glib, gnutls, libxml2…), while Plinth's PID 1 and agent are static musl binaries. Rather than
//! make the whole agent a glibc binary, or speak libvirt's RPC protocol ourselves, the one check
//! that needs libvirt is this small glibc binary, built for the gnu target against Debian's
//! `libvirt-dev` and run against the image's `libvirt0`; the agent runs it now and then, only once
//! a daemon answers on the socket, and keeps every other compute check (the KVM ioctl, nested
//! virtualization, hugepages, IOMMU groups, the metrics) static.
#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};

/// The socket of Genestack's libvirt pod, which mounts the host's `/run` (libvirtd's own).
pub const DEFAULT_SOCKET: &str = "/run/libvirt/libvirt-sock";

/// The URI that reaches the system QEMU driver through `socket`.
pub fn uri(socket: &str) -> String {
    format!("qemu+unix:///system?socket={socket}")
}

/// What the daemon said.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LibvirtFacts {
    /// The daemon's libvirt version (`11.3.0`).
    pub version: String,
    /// The driver (`QEMU`).
    pub hypervisor: String,
    /// The hypervisor's version (`10.0.2`).
    pub hypervisor_version: String,
    /// The host's architecture in the capabilities (`x86_64`).
    pub host_arch: String,
    /// The guest architectures and domain types the capabilities offer.
    pub guests: Vec<Guest>,
    /// Whether a KVM domain of the host's architecture can be run.
    pub kvm: bool,
}

/// One `<guest>` of the capabilities.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Guest {
    /// `x86_64`, `i686`, …
    pub arch: String,
    /// `qemu`, `kvm`, …
    pub domain_types: Vec<String>,
}

/// The binary's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum Outcome {
    /// The daemon answered.
    Ok(LibvirtFacts),
    /// No daemon answered, or it refused the connection or a question.
    Unreachable {
        /// libvirt's message.
        error: String,
    },
}

/// `major.minor.release` of libvirt's packed version number (`major * 1e6 + minor * 1e3 + release`).
pub fn version_string(packed: u32) -> String {
    format!(
        "{}.{}.{}",
        packed / 1_000_000,
        packed / 1000 % 1000,
        packed % 1000
    )
}

/// The value of attribute `name` in the start tag at the beginning of `tag` (either quote).
fn attribute(tag: &str, name: &str) -> Option<String> {
    let end = tag.find('>').unwrap_or(tag.len());
    let tag = &tag[..end];
    let at = tag.find(&format!(" {name}="))? + name.len() + 2;
    let quote = tag[at..].chars().next()?;
    let rest = &tag[at + 1..];
    Some(rest[..rest.find(quote)?].to_owned())
}

/// The host architecture and the guests of a capabilities document (`virConnectGetCapabilities`).
pub fn read_capabilities(xml: &str) -> (String, Vec<Guest>) {
    let host_arch = xml
        .find("<host>")
        .and_then(|h| {
            let host = &xml[h..xml[h..].find("</host>").map_or(xml.len(), |e| h + e)];
            let start = host.find("<arch>")? + "<arch>".len();
            let len = host[start..].find("</arch>")?;
            Some(host[start..start + len].trim().to_owned())
        })
        .unwrap_or_default();
    let guests = xml
        .split("<guest>")
        .skip(1)
        .map(|g| {
            let g = &g[..g.find("</guest>").unwrap_or(g.len())];
            let arch = g
                .find("<arch ")
                .and_then(|a| attribute(&g[a..], "name"))
                .unwrap_or_default();
            let mut domain_types: Vec<String> = g
                .match_indices("<domain ")
                .filter_map(|(i, _)| attribute(&g[i..], "type"))
                .collect();
            domain_types.dedup();
            Guest { arch, domain_types }
        })
        .collect();
    (host_arch, guests)
}

/// Whether `guests` offer a KVM domain of the host's architecture.
pub fn kvm_available(host_arch: &str, guests: &[Guest]) -> bool {
    guests
        .iter()
        .any(|g| g.arch == host_arch && g.domain_types.iter().any(|t| t == "kvm"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Trimmed from what Debian 12's libvirtd 9.0 answered on a KVM host.
    const CAPS: &str = "<capabilities>\n  <host>\n    <uuid>x</uuid>\n    <cpu>\n      <arch>x86_64</arch>\n      <model>EPYC</model>\n    </cpu>\n  </host>\n  <guest>\n    <os_type>hvm</os_type>\n    <arch name='i686'>\n      <wordsize>32</wordsize>\n      <domain type='qemu'/>\n      <domain type='kvm'/>\n    </arch>\n  </guest>\n  <guest>\n    <os_type>hvm</os_type>\n    <arch name='x86_64'>\n      <wordsize>64</wordsize>\n      <emulator>/usr/bin/qemu-system-x86_64</emulator>\n      <domain type='qemu'/>\n      <domain type='kvm'/>\n    </arch>\n  </guest>\n</capabilities>\n";

    #[test]
    fn the_capabilities_give_the_host_arch_and_each_guests_domain_types() {
        let (arch, guests) = read_capabilities(CAPS);
        assert_eq!(arch, "x86_64");
        assert_eq!(guests.len(), 2);
        assert_eq!(guests[1].arch, "x86_64");
        assert_eq!(guests[1].domain_types, ["qemu", "kvm"]);
        assert!(kvm_available(&arch, &guests));
    }

    #[test]
    fn without_a_kvm_domain_of_the_host_arch_kvm_is_not_available() {
        let tcg_only = CAPS.replace("<domain type='kvm'/>", "");
        let (arch, guests) = read_capabilities(&tcg_only);
        assert_eq!(guests[1].domain_types, ["qemu"]);
        assert!(!kvm_available(&arch, &guests));
        let other_arch = CAPS.replace("<arch>x86_64</arch>", "<arch>aarch64</arch>");
        let (arch, guests) = read_capabilities(&other_arch);
        assert!(!kvm_available(&arch, &guests));
        assert_eq!(read_capabilities("").0, "");
    }

    #[test]
    fn versions_unpack_and_outcomes_round_trip() {
        assert_eq!(version_string(9_000_000), "9.0.0");
        assert_eq!(version_string(11_003_001), "11.3.1");
        let o = Outcome::Unreachable {
            error: "no socket".into(),
        };
        let text = serde_json::to_string(&o).unwrap();
        assert_eq!(text, r#"{"state":"unreachable","error":"no socket"}"#);
        assert_eq!(serde_json::from_str::<Outcome>(&text).unwrap(), o);
        assert_eq!(
            uri("/run/libvirt/libvirt-sock"),
            "qemu+unix:///system?socket=/run/libvirt/libvirt-sock"
        );
    }
}
