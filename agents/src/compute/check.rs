//! What each compute check says, from what is expected (the config, handed over by PID 1 as
//! arguments) and what was observed. Pure.

use serde::{Deserialize, Serialize};

use super::cmdline;
use super::kvm::{API_VERSION, KvmError};
use super::libvirt::Libvirt;
use super::observe::Sysfs;

/// What the config asks of this compute node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expect {
    /// `plinth.kernel.nested_virtualization`, when set.
    pub nested: Option<bool>,
    /// `(page size KiB, count)` of `plinth.kernel.hugepages`.
    pub hugepages: Vec<(u64, u64)>,
    /// `plinth.kernel` arguments (hugepages' and `cmdline`).
    pub kernel_args: Vec<String>,
}

/// Why a `--hugepages` argument is not `SIZE=COUNT`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HugepagesError {
    /// No `=`.
    #[error("{0}: expected SIZE=COUNT, such as 1G=4")]
    NotSizeCount(String),
    /// A size other than `2M` and `1G`.
    #[error("{0}: the size is 2M or 1G")]
    Size(String),
    /// A count that is not a number.
    #[error("{text}: the count: {source}")]
    Count {
        /// The argument.
        text: String,
        /// Why the count is not a number.
        source: std::num::ParseIntError,
    },
}

/// `2M=512` or `1G=4` (as PID 1 passes `--hugepages`) as `(KiB, count)`.
pub fn parse_hugepages(text: &str) -> Result<(u64, u64), HugepagesError> {
    let (size, count) = text
        .split_once('=')
        .ok_or_else(|| HugepagesError::NotSizeCount(text.to_owned()))?;
    let kib = match size {
        "2M" => 2048,
        "1G" => 1024 * 1024,
        _ => return Err(HugepagesError::Size(text.to_owned())),
    };
    let count = count.parse().map_err(|source| HugepagesError::Count {
        text: text.to_owned(),
        source,
    })?;
    Ok((kib, count))
}

/// A check's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    Ok,
    Failing,
    /// Not there yet, and that is expected for now (no libvirt pod yet).
    Waiting,
    /// Nothing to check on this node's config and kernel line.
    NotApplicable,
}

impl State {
    pub const ALL: [State; 4] = [Self::Ok, Self::Failing, Self::Waiting, Self::NotApplicable];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Failing => "failing",
            Self::Waiting => "waiting",
            Self::NotApplicable => "not-applicable",
        }
    }
}

/// One check's verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub state: State,
    pub detail: String,
}

fn check(name: &str, state: State, detail: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        state,
        detail: detail.into(),
    }
}

fn size_name(kib: u64) -> String {
    if kib.is_multiple_of(1024 * 1024) {
        format!("{}G", kib / 1024 / 1024)
    } else {
        format!("{}M", kib / 1024)
    }
}

/// Every check, in the order shown.
pub fn checks(
    expect: &Expect,
    kvm: &Result<i32, KvmError>,
    sys: &Sysfs,
    libvirt: &Libvirt,
) -> Vec<Check> {
    let mut out = vec![match kvm {
        Ok(v) if *v == API_VERSION => check(
            "kvm",
            State::Ok,
            format!("/dev/kvm answers API version {v}"),
        ),
        Ok(v) => check(
            "kvm",
            State::Failing,
            format!("/dev/kvm answers API version {v}, not {API_VERSION}"),
        ),
        Err(e) => check("kvm", State::Failing, e.to_string()),
    }];
    out.push(match (expect.nested, &sys.nested) {
        (_, None) => check(
            "nested",
            if expect.nested.is_some() {
                State::Failing
            } else {
                State::NotApplicable
            },
            "neither kvm_intel nor kvm_amd is loaded",
        ),
        (Some(want), Some((module, on))) if want != *on => check(
            "nested",
            State::Failing,
            format!(
                "{module} nested is {}, the config wants {}",
                onoff(*on),
                onoff(want)
            ),
        ),
        (Some(_), Some((module, on))) => check(
            "nested",
            State::Ok,
            format!("{module} nested is {}", onoff(*on)),
        ),
        (None, Some((module, on))) => check(
            "nested",
            State::Ok,
            format!("{module} nested is {} (not configured)", onoff(*on)),
        ),
    });
    for (kib, want) in &expect.hugepages {
        let name = format!("hugepages-{}", size_name(*kib));
        let got = sys.hugepages.get(kib).copied();
        out.push(match got {
            Some(n) if n >= *want => check(&name, State::Ok, format!("{n} of {want} reserved")),
            Some(n) => check(&name, State::Failing, format!("{n} of {want} reserved")),
            None => check(
                &name,
                State::Failing,
                format!("the kernel has no {} pages", size_name(*kib)),
            ),
        });
    }
    out.push(match cmdline::iommu_on(&sys.cmdline) {
        None => check("iommu", State::NotApplicable, "no intel_iommu=on or amd_iommu=on on the kernel line"),
        Some(arg) if sys.iommu_groups == 0 => check(
            "iommu",
            State::Failing,
            format!("{arg} is on the kernel line but there are no IOMMU groups (IOMMU off in the firmware?)"),
        ),
        Some(arg) => check("iommu", State::Ok, format!("{} IOMMU groups ({arg})", sys.iommu_groups)),
    });
    let missing = cmdline::missing(&expect.kernel_args, &sys.cmdline);
    out.push(if expect.kernel_args.is_empty() {
        check("kernel-args", State::NotApplicable, "no plinth.kernel arguments configured")
    } else if missing.is_empty() {
        check("kernel-args", State::Ok, format!("all {} configured arguments are on the kernel line", expect.kernel_args.len()))
    } else {
        check(
            "kernel-args",
            State::Failing,
            format!(
                "not on the kernel line: {} (plinth.kernel arguments reach the kernel only through a node's PXE script or syslinux.cfg, `cargo xtask config boot`; a UEFI boot runs the UKI, whose command line is fixed)",
                missing.join(" ")
            ),
        )
    });
    out.push(match libvirt {
        Libvirt::NotYet { socket, why } => check(
            "libvirt",
            State::Waiting,
            format!("no libvirt yet: nothing answers on {socket} ({why})"),
        ),
        Libvirt::Answered(f) if f.kvm => check(
            "libvirt",
            State::Ok,
            format!(
                "libvirt {}, {} {}, KVM domains for {}",
                f.version, f.hypervisor, f.hypervisor_version, f.host_arch
            ),
        ),
        Libvirt::Answered(f) => check(
            "libvirt",
            State::Failing,
            format!(
                "libvirt {}, {} {}: no KVM domain type for {}",
                f.version, f.hypervisor, f.hypervisor_version, f.host_arch
            ),
        ),
        Libvirt::Failed { why } => check("libvirt", State::Failing, why.clone()),
    });
    out
}

fn onoff(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    use plinth_virt_check::LibvirtFacts;

    fn not_yet() -> Libvirt {
        Libvirt::NotYet {
            socket: "/run/libvirt/libvirt-sock".into(),
            why: "No such file or directory".into(),
        }
    }

    fn state(cs: &[Check], name: &str) -> State {
        cs.iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no {name}"))
            .state
    }

    #[test]
    fn a_bare_compute_node_checks_kvm_and_waits_for_libvirt() {
        let sys = Sysfs {
            nested: Some(("kvm_intel".into(), true)),
            ..Sysfs::default()
        };
        let cs = checks(&Expect::default(), &Ok(12), &sys, &not_yet());
        let names: Vec<&str> = cs.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["kvm", "nested", "iommu", "kernel-args", "libvirt"]);
        assert_eq!(state(&cs, "kvm"), State::Ok);
        assert_eq!(cs[1].detail, "kvm_intel nested is on (not configured)");
        assert_eq!(state(&cs, "iommu"), State::NotApplicable);
        assert_eq!(state(&cs, "kernel-args"), State::NotApplicable);
        assert_eq!(state(&cs, "libvirt"), State::Waiting);
        assert!(cs[4].detail.starts_with("no libvirt yet"));
    }

    #[test]
    fn what_the_config_asks_is_compared_with_the_machine() {
        let expect = Expect {
            nested: Some(false),
            hugepages: vec![(1_048_576, 4), (2048, 512)],
            kernel_args: vec!["intel_iommu=on".into(), "hugepages=4".into()],
        };
        let sys = Sysfs {
            nested: Some(("kvm_amd".into(), true)),
            hugepages: BTreeMap::from([(2048, 600), (1_048_576, 2)]),
            iommu_groups: 0,
            cmdline: cmdline::parse("console=ttyS0 intel_iommu=on"),
        };
        let cs = checks(
            &expect,
            &Err(KvmError::Open {
                device: "/dev/kvm".into(),
                source: std::io::Error::from_raw_os_error(2),
            }),
            &sys,
            &not_yet(),
        );
        assert_eq!(state(&cs, "kvm"), State::Failing);
        assert_eq!(
            cs[0].detail,
            "cannot open /dev/kvm: No such file or directory (os error 2)"
        );
        assert_eq!(cs[1].detail, "kvm_amd nested is on, the config wants off");
        assert_eq!(state(&cs, "hugepages-1G"), State::Failing);
        assert_eq!(cs[2].detail, "2 of 4 reserved");
        assert_eq!(state(&cs, "hugepages-2M"), State::Ok);
        assert_eq!(state(&cs, "iommu"), State::Failing);
        let args = cs.iter().find(|c| c.name == "kernel-args").unwrap();
        assert_eq!(args.state, State::Failing);
        assert!(
            args.detail
                .starts_with("not on the kernel line: hugepages=4 (plinth.kernel arguments reach"),
            "{}",
            args.detail
        );
    }

    #[test]
    fn a_ready_node_is_ok_throughout() {
        let expect = Expect {
            nested: Some(true),
            hugepages: vec![(2048, 8)],
            kernel_args: vec!["intel_iommu=on".into()],
        };
        let sys = Sysfs {
            nested: Some(("kvm_intel".into(), true)),
            hugepages: BTreeMap::from([(2048, 8)]),
            iommu_groups: 17,
            cmdline: cmdline::parse("intel_iommu=on"),
        };
        let facts = LibvirtFacts {
            version: "11.3.0".into(),
            hypervisor: "QEMU".into(),
            hypervisor_version: "10.0.2".into(),
            host_arch: "x86_64".into(),
            guests: vec![],
            kvm: true,
        };
        let cs = checks(&expect, &Ok(12), &sys, &Libvirt::Answered(facts.clone()));
        assert!(cs.iter().all(|c| c.state == State::Ok), "{cs:#?}");
        assert_eq!(
            cs.last().unwrap().detail,
            "libvirt 11.3.0, QEMU 10.0.2, KVM domains for x86_64"
        );
        let tcg = checks(
            &expect,
            &Ok(12),
            &sys,
            &Libvirt::Answered(LibvirtFacts {
                kvm: false,
                ..facts
            }),
        );
        assert_eq!(state(&tcg, "libvirt"), State::Failing);
        assert_eq!(
            state(&checks(&expect, &Ok(11), &sys, &not_yet()), "kvm"),
            State::Failing
        );
    }

    #[test]
    fn hugepage_arguments_parse() {
        assert_eq!(parse_hugepages("1G=4"), Ok((1_048_576, 4)));
        assert_eq!(parse_hugepages("2M=512"), Ok((2048, 512)));
        assert_eq!(
            parse_hugepages("4M=1"),
            Err(HugepagesError::Size("4M=1".into()))
        );
        assert_eq!(
            parse_hugepages("2M").unwrap_err().to_string(),
            "2M: expected SIZE=COUNT, such as 1G=4"
        );
        assert_eq!(
            parse_hugepages("2M=x").unwrap_err().to_string(),
            "2M=x: the count: invalid digit found in string"
        );
    }
}
