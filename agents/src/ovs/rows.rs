//! The database's current [`Switch`]: the `select` operations that read the five tables Plinth
//! manages (`Open_vSwitch`, `Bridge`, `Port`, `Interface`, `Controller`) in one transaction, and
//! the assembly of their rows, joined by uuid, into the model. Pure: JSON in, model out.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::datum::{optional_int, optional_string, string_map, string_set, uuid_set};
use super::model::{Bridge, Controller, Interface, Port, Switch};

/// The tables read, in the order of [`selects`].
pub const TABLES: [&str; 5] = ["Open_vSwitch", "Bridge", "Port", "Interface", "Controller"];

/// The columns read of each table (with `_uuid`).
fn columns(table: &str) -> &'static [&'static str] {
    match table {
        "Open_vSwitch" => &["_uuid", "bridges", "external_ids", "other_config"],
        "Bridge" => &[
            "_uuid",
            "name",
            "ports",
            "fail_mode",
            "mcast_snooping_enable",
            "rstp_enable",
            "protocols",
            "controller",
            "external_ids",
            "other_config",
        ],
        "Port" => &[
            "_uuid",
            "name",
            "interfaces",
            "tag",
            "fake_bridge",
            "bond_mode",
            "lacp",
            "external_ids",
            "other_config",
        ],
        "Interface" => &[
            "_uuid",
            "name",
            "type",
            "options",
            "external_ids",
            "other_config",
            "mtu_request",
        ],
        _ => &["_uuid", "target", "connection_mode"],
    }
}

/// The `select` operations of one reading transaction.
pub fn selects() -> Vec<Value> {
    TABLES
        .iter()
        .map(|t| json!({"op": "select", "table": t, "where": [], "columns": columns(t)}))
        .collect()
}

/// Rows of one select result, by uuid.
fn rows(result: &Value) -> BTreeMap<String, &Value> {
    result["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| super::datum::uuid(&r["_uuid"]).map(|u| (u, r)))
        .collect()
}

/// Assembles the switch from the results of [`selects`]; references to rows not read are
/// skipped. Bridges, ports and interfaces come in the order of their names.
pub fn switch(results: &[Value]) -> Switch {
    let empty = Value::Null;
    let at = |i: usize| results.get(i).unwrap_or(&empty);
    let (roots, bridges, ports, ifaces, controllers) = (
        rows(at(0)),
        rows(at(1)),
        rows(at(2)),
        rows(at(3)),
        rows(at(4)),
    );
    let interface = |u: &String| -> Option<Interface> {
        let r = ifaces.get(u)?;
        Some(Interface {
            uuid: Some(u.clone()),
            name: r["name"].as_str()?.to_owned(),
            kind: r["type"].as_str().unwrap_or_default().to_owned(),
            options: string_map(r.get("options")),
            external_ids: string_map(r.get("external_ids")),
            other_config: string_map(r.get("other_config")),
            mtu_request: optional_int(r.get("mtu_request")),
        })
    };
    let port = |u: &String| -> Option<Port> {
        let r = ports.get(u)?;
        let mut interfaces: Vec<Interface> = uuid_set(r.get("interfaces"))
            .iter()
            .filter_map(interface)
            .collect();
        interfaces.sort_by(|a, b| a.name.cmp(&b.name));
        Some(Port {
            uuid: Some(u.clone()),
            name: r["name"].as_str()?.to_owned(),
            interfaces,
            tag: optional_int(r.get("tag")),
            fake_bridge: r["fake_bridge"].as_bool().unwrap_or(false),
            bond_mode: optional_string(r.get("bond_mode")),
            lacp: optional_string(r.get("lacp")),
            external_ids: string_map(r.get("external_ids")),
            other_config: string_map(r.get("other_config")),
        })
    };
    let bridge = |u: &String| -> Option<Bridge> {
        let r = bridges.get(u)?;
        let mut ports: Vec<Port> = uuid_set(r.get("ports")).iter().filter_map(port).collect();
        ports.sort_by(|a, b| a.name.cmp(&b.name));
        let mut controllers: Vec<Controller> = uuid_set(r.get("controller"))
            .iter()
            .filter_map(|c| controllers.get(c))
            .map(|c| Controller {
                target: c["target"].as_str().unwrap_or_default().to_owned(),
                connection_mode: optional_string(c.get("connection_mode")),
            })
            .collect();
        controllers.sort();
        let mut protocols = string_set(r.get("protocols"));
        protocols.sort();
        Some(Bridge {
            uuid: Some(u.clone()),
            name: r["name"].as_str()?.to_owned(),
            ports,
            fail_mode: optional_string(r.get("fail_mode")),
            mcast_snooping: r["mcast_snooping_enable"].as_bool().unwrap_or(false),
            rstp: r["rstp_enable"].as_bool().unwrap_or(false),
            protocols,
            controllers,
            external_ids: string_map(r.get("external_ids")),
            other_config: string_map(r.get("other_config")),
        })
    };
    let Some((uuid, root)) = roots.iter().next() else {
        return Switch::default();
    };
    let mut bridges: Vec<Bridge> = uuid_set(root.get("bridges"))
        .iter()
        .filter_map(bridge)
        .collect();
    bridges.sort_by(|a, b| a.name.cmp(&b.name));
    Switch {
        uuid: Some(uuid.clone()),
        external_ids: string_map(root.get("external_ids")),
        other_config: string_map(root.get("other_config")),
        bridges,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_rows_by_uuid() {
        let results = [
            json!({"rows": [{"_uuid": ["uuid", "r"], "bridges": ["uuid", "b"], "external_ids": ["map", [["system-id", "x"]]], "other_config": ["map", []]}]}),
            json!({"rows": [{"_uuid": ["uuid", "b"], "name": "br0", "ports": ["set", [["uuid", "p1"], ["uuid", "p0"]]], "fail_mode": "secure", "mcast_snooping_enable": true, "rstp_enable": false, "protocols": ["set", []], "controller": ["set", []], "external_ids": ["map", []], "other_config": ["map", []]}]}),
            json!({"rows": [
                {"_uuid": ["uuid", "p0"], "name": "br0", "interfaces": ["uuid", "i0"], "tag": ["set", []], "fake_bridge": false, "bond_mode": ["set", []], "lacp": ["set", []], "external_ids": ["map", []], "other_config": ["map", []]},
                {"_uuid": ["uuid", "p1"], "name": "br0.7", "interfaces": ["uuid", "i1"], "tag": 7, "fake_bridge": true, "bond_mode": ["set", []], "lacp": ["set", []], "external_ids": ["map", []], "other_config": ["map", []]}
            ]}),
            json!({"rows": [
                {"_uuid": ["uuid", "i0"], "name": "br0", "type": "internal", "options": ["map", []], "external_ids": ["map", []], "other_config": ["map", []], "mtu_request": ["set", []]},
                {"_uuid": ["uuid", "i1"], "name": "br0.7", "type": "internal", "options": ["map", []], "external_ids": ["map", []], "other_config": ["map", []], "mtu_request": 9000}
            ]}),
            json!({"rows": []}),
        ];
        let s = switch(&results);
        assert_eq!(s.uuid.as_deref(), Some("r"));
        assert_eq!(s.external_ids["system-id"], "x");
        let br = &s.bridges[0];
        assert_eq!(
            (br.name.as_str(), br.fail_mode.as_deref(), br.mcast_snooping),
            ("br0", Some("secure"), true)
        );
        assert_eq!(br.ports[1].name, "br0.7");
        assert_eq!(br.ports[1].tag, Some(7));
        assert_eq!(br.ports[1].interfaces[0].mtu_request, Some(9000));
    }
}
