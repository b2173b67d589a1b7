//! The Genestack contract, read from GENESTACK.md itself (kept outside the repository, in
//! ../shared/): the role labels table and the kernel module list must match what Plinth produces.

use std::collections::BTreeSet;
use std::path::PathBuf;

use plinth_config::genestack::role_labels;
use plinth_config::plinth::GenestackRole;

fn genestack_md() -> Option<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/GENESTACK.md");
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(_) => {
            eprintln!(
                "SKIPPED: {} not found (it lives outside the repository)",
                path.display()
            );
            None
        }
    }
}

/// The section of the document under `heading`, up to the next heading.
fn section<'a>(text: &'a str, heading: &str) -> &'a str {
    let start = text
        .find(heading)
        .unwrap_or_else(|| panic!("GENESTACK.md has no `{heading}`"));
    let rest = &text[start + heading.len()..];
    &rest[..rest.find("\n## ").unwrap_or(rest.len())]
}

#[test]
fn role_labels_match_the_table() {
    let Some(text) = genestack_md() else { return };
    let table = section(&text, "## Role labels");
    let documented: BTreeSet<String> = table
        .lines()
        .filter(|l| l.starts_with("| `"))
        .filter_map(|l| l.split('`').nth(1).map(str::to_owned))
        .collect();
    assert_eq!(documented.len(), 8, "{documented:?}");
    let produced: BTreeSet<String> = GenestackRole::ALL
        .iter()
        .flat_map(|r| role_labels(*r).iter().map(|(k, v)| format!("{k}={v}")))
        .collect();
    assert_eq!(produced, documented);
}

#[test]
fn kernel_modules_match_the_list() {
    let Some(text) = genestack_md() else { return };
    let list = section(&text, "## Kernel modules loaded on every node");
    let documented: BTreeSet<&str> = list
        .split('`')
        .skip(1)
        .step_by(2)
        .flat_map(str::split_whitespace)
        .filter(|m| !m.contains('|'))
        .collect();
    assert!(documented.len() > 20, "{documented:?}");
    let ours: BTreeSet<&str> = plinth_config::kernel::GENESTACK_MODULES
        .iter()
        .copied()
        .collect();
    // Kube-OVN's own list (vxlan) comes on top of GENESTACK.md's.
    let expected: BTreeSet<&str> = documented
        .iter()
        .copied()
        .chain(plinth_config::kernel::KUBE_OVN_MODULES.iter().copied())
        .collect();
    assert_eq!(
        ours, expected,
        "GENESTACK_MODULES vs GENESTACK.md and Kube-OVN's docs"
    );
    assert_eq!(
        plinth_config::kernel::kvm_vendor_module("GenuineIntel"),
        Some("kvm_intel")
    );
    assert_eq!(
        plinth_config::kernel::kvm_vendor_module("AuthenticAMD"),
        Some("kvm_amd")
    );
}

#[test]
fn sysctls_match_the_list() {
    let Some(text) = genestack_md() else { return };
    let list = section(&text, "## Sysctls");
    let ours = plinth_config::kernel::genestack_sysctls();
    for item in list.split('`').skip(1).step_by(2) {
        // `a=b=VALUE` sets two keys; `a.{x,y}=VALUE` expands; `rp_filter=0` is per interface family.
        let parts: Vec<&str> = item.split('=').collect();
        let (keys, value) = parts.split_at(parts.len() - 1);
        for key in keys {
            let expanded: Vec<String> = match (key.find('{'), key.find('}')) {
                (Some(open), Some(close)) => key[open + 1..close]
                    .split(',')
                    .map(|alt| format!("{}{alt}{}", &key[..open], &key[close + 1..]))
                    .collect(),
                _ => vec![(*key).to_owned()],
            };
            for k in expanded {
                let k = if k.contains('.') {
                    k
                } else {
                    format!("net.ipv4.conf.all.{k}")
                };
                assert_eq!(
                    ours.get(k.as_str()).copied(),
                    Some(value[0]),
                    "sysctl {k} from `{item}`"
                );
            }
        }
    }
    assert_eq!(
        ours["net.ipv4.conf.all.accept_redirects"], "0",
        "ICMP redirects off"
    );
}
