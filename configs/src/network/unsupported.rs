//! The netplan features Plinth does not configure. They are found in the raw document tree and removed
//! before the typed read, each reported as `unsupported: KEY` with a reason, so a seed that uses one
//! fails clearly instead of with a type error or silently half-configured networking.

use crate::yaml::{KeyPath, Node};

/// One unsupported feature found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsupported {
    /// Path of the offending key.
    pub path: KeyPath,
    /// Message (starts with `unsupported: `).
    pub message: String,
}

/// Top-level netplan sections Plinth refuses, with the reason.
const SECTIONS: &[(&str, &str)] = &[
    ("wifis", "Plinth does not configure Wi-Fi"),
    ("modems", "Plinth does not configure modems"),
    ("nm-devices", "Plinth does not use NetworkManager"),
];

/// Device keys Plinth refuses, with the reason.
const DEVICE_KEYS: &[(&str, &str)] = &[
    ("auth", "Plinth does not do 802.1x authentication"),
    ("infiniband-mode", "Plinth does not configure InfiniBand"),
    ("embedded-switch-mode", "Plinth does not configure SR-IOV"),
    ("virtual-function-count", "Plinth does not configure SR-IOV"),
    (
        "delay-virtual-functions-rebind",
        "Plinth does not configure SR-IOV",
    ),
];

const DEVICE_SECTIONS: &[&str] = &[
    "ethernets",
    "bonds",
    "vlans",
    "bridges",
    "tunnels",
    "dummy-devices",
    "virtual-ethernets",
];

/// Finds and removes the unsupported features of the network mapping at `path` inside `root`.
pub fn strip(root: &mut Node, path: &KeyPath) -> Vec<Unsupported> {
    let Some(network) = root.find(path) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for (section, why) in SECTIONS {
        if network.get(section).is_some() {
            found.push(Unsupported {
                path: path.key(section),
                message: format!("unsupported: {section}: {why}"),
            });
        }
    }
    for section in DEVICE_SECTIONS {
        let Some(devices) = network.get(section) else {
            continue;
        };
        for (name, device) in devices.entries() {
            let dev_path = path.key(section).key(&name.text);
            for (key, why) in DEVICE_KEYS {
                if device.get(key).is_some() {
                    found.push(Unsupported {
                        path: dev_path.key(key),
                        message: format!("unsupported: {key}: {why}"),
                    });
                }
            }
            if *section == "ethernets" && device.get("link").is_some() {
                found.push(Unsupported {
                    path: dev_path.key("link"),
                    message: "unsupported: link: an ethernet with `link` is an SR-IOV virtual function; Plinth does not configure SR-IOV".to_owned(),
                });
            }
            if device.get("renderer").and_then(Node::as_str) == Some("sriov") {
                found.push(Unsupported {
                    path: dev_path.key("renderer"),
                    message: "unsupported: renderer: sriov: Plinth does not configure SR-IOV"
                        .to_owned(),
                });
            }
            if *section == "tunnels"
                && device.get("mode").and_then(Node::as_str) == Some("wireguard")
            {
                found.push(Unsupported {
                    path: dev_path.clone(),
                    message: "unsupported: wireguard: Plinth does not configure WireGuard tunnels"
                        .to_owned(),
                });
            }
        }
    }
    for item in &found {
        root.prune(&item.path);
    }
    found
}
