//! The transaction that takes the database's [`Switch`] to the wanted one: rows inserted for the
//! bridges, ports, interfaces and controllers missing (children first, referenced by
//! `named-uuid`), `update`s of only the columns that differ on rows that exist, and `mutate`s of
//! the reference sets (`Open_vSwitch.bridges`, `Bridge.ports`, `Port.interfaces`). Maps
//! (`external_ids`, `other_config`, `options`) are merged: the wanted keys are set, keys others
//! wrote stay. A bridge, port or interface is removed only when it carries Plinth's mark and the
//! config no longer has it; rows that are no longer referenced are removed by the database itself
//! (they are not root tables). Nothing to change is an empty plan. Pure.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::datum::{to_map, to_named, to_optional, to_ref_set, to_set, to_uuid};
use super::model::{Bridge, Controller, Interface, Port, Row, Switch, managed};

/// The operations of one transaction, and what they do in words.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// The transaction's operations; empty when the database holds what the config wants.
    pub ops: Vec<Value>,
    /// One line per change, such as `add port bond0 to br0`.
    pub changes: Vec<String>,
    /// Things wanted that cannot be done (a port name used by a bridge Plinth does not manage).
    pub warnings: Vec<String>,
}

/// Plans the transaction from `have` to `want`.
pub fn plan(want: &Switch, have: &Switch) -> Plan {
    let mut b = Builder {
        plan: Plan::default(),
        next: 0,
        have,
    };
    let mut add = Vec::new();
    for wb in &want.bridges {
        match have.bridges.iter().find(|h| h.name == wb.name) {
            Some(hb) => b.bridge(wb, hb),
            None => {
                b.plan.changes.push(format!("add bridge {}", wb.name));
                add.push(b.insert_bridge(wb));
            }
        }
    }
    let del = b.unwanted(&have.bridges, &want.bridges, |name| {
        format!("remove bridge {name}")
    });
    match &have.uuid {
        None => {
            b.plan.changes.push("add the Open_vSwitch row".into());
            b.plan.ops.push(json!({
                "op": "insert",
                "table": "Open_vSwitch",
                "row": {
                    "bridges": to_ref_set(add),
                    "external_ids": to_map(&want.external_ids),
                    "other_config": to_map(&want.other_config),
                },
            }));
        }
        Some(root) => {
            b.mutate("Open_vSwitch", root, "bridges", add, del);
            let mut row = Map::new();
            b.merge(
                &mut row,
                "external_ids",
                &want.external_ids,
                &have.external_ids,
                "the switch",
            );
            b.merge(
                &mut row,
                "other_config",
                &want.other_config,
                &have.other_config,
                "the switch",
            );
            b.update("Open_vSwitch", root, row);
        }
    }
    b.plan
}

struct Builder<'a> {
    plan: Plan,
    next: usize,
    have: &'a Switch,
}

impl Builder<'_> {
    fn named(&mut self) -> String {
        self.next += 1;
        format!("row{}", self.next)
    }

    fn insert(&mut self, table: &str, row: Value) -> Value {
        let name = self.named();
        self.plan
            .ops
            .push(json!({"op": "insert", "table": table, "row": row, "uuid-name": name}));
        to_named(&name)
    }

    fn insert_interface(&mut self, i: &Interface) -> Value {
        let row = json!({
            "name": i.name,
            "type": i.kind,
            "options": to_map(&i.options),
            "external_ids": to_map(&i.external_ids),
            "other_config": to_map(&i.other_config),
            "mtu_request": to_optional(i.mtu_request),
        });
        self.insert("Interface", row)
    }

    fn insert_port(&mut self, p: &Port) -> Value {
        let interfaces: Vec<Value> = p
            .interfaces
            .iter()
            .map(|i| self.insert_interface(i))
            .collect();
        let row = json!({
            "name": p.name,
            "interfaces": to_ref_set(interfaces),
            "tag": to_optional(p.tag),
            "fake_bridge": p.fake_bridge,
            "bond_mode": to_optional(p.bond_mode.clone()),
            "lacp": to_optional(p.lacp.clone()),
            "external_ids": to_map(&p.external_ids),
            "other_config": to_map(&p.other_config),
        });
        self.insert("Port", row)
    }

    fn insert_controllers(&mut self, list: &[Controller]) -> Vec<Value> {
        list.iter()
            .map(|c| {
                let row = json!({
                    "target": c.target,
                    "connection_mode": to_optional(c.connection_mode.clone()),
                });
                self.insert("Controller", row)
            })
            .collect()
    }

    fn insert_bridge(&mut self, w: &Bridge) -> Value {
        let ports: Vec<Value> = w.ports.iter().map(|p| self.insert_port(p)).collect();
        let controllers = self.insert_controllers(&w.controllers);
        let row = json!({
            "name": w.name,
            "ports": to_ref_set(ports),
            "fail_mode": to_optional(w.fail_mode.clone()),
            "mcast_snooping_enable": w.mcast_snooping,
            "rstp_enable": w.rstp,
            "protocols": to_set(&w.protocols),
            "controller": to_ref_set(controllers),
            "external_ids": to_map(&w.external_ids),
            "other_config": to_map(&w.other_config),
        });
        self.insert("Bridge", row)
    }

    fn update(&mut self, table: &str, uuid: &str, row: Map<String, Value>) {
        if !row.is_empty() {
            self.plan.ops.push(json!({
                "op": "update",
                "table": table,
                "where": [["_uuid", "==", to_uuid(uuid)]],
                "row": row,
            }));
        }
    }

    fn mutate(&mut self, table: &str, uuid: &str, column: &str, add: Vec<Value>, del: Vec<Value>) {
        let mut mutations = Vec::new();
        if !del.is_empty() {
            mutations.push(json!([column, "delete", to_ref_set(del)]));
        }
        if !add.is_empty() {
            mutations.push(json!([column, "insert", to_ref_set(add)]));
        }
        if !mutations.is_empty() {
            self.plan.ops.push(json!({
                "op": "mutate",
                "table": table,
                "where": [["_uuid", "==", to_uuid(uuid)]],
                "mutations": mutations,
            }));
        }
    }

    /// Sets `column` to `have` with `want`'s keys when any of them differs.
    fn merge(
        &mut self,
        row: &mut Map<String, Value>,
        column: &str,
        want: &BTreeMap<String, String>,
        have: &BTreeMap<String, String>,
        what: &str,
    ) {
        if want.iter().all(|(k, v)| have.get(k) == Some(v)) {
            return;
        }
        let mut merged = have.clone();
        merged.extend(want.iter().map(|(k, v)| (k.clone(), v.clone())));
        self.plan.changes.push(format!("set {column} of {what}"));
        row.insert(column.into(), to_map(&merged));
    }

    /// `external_ids` and `other_config`, which bridges, ports and interfaces all have, each
    /// merged as [`Self::merge`] does.
    fn merge_ids_and_config<R: Row>(
        &mut self,
        row: &mut Map<String, Value>,
        want: &R,
        have: &R,
        what: &str,
    ) {
        self.merge(
            row,
            "external_ids",
            want.external_ids(),
            have.external_ids(),
            what,
        );
        self.merge(
            row,
            "other_config",
            want.other_config(),
            have.other_config(),
            what,
        );
    }

    fn set<T: PartialEq>(
        &mut self,
        row: &mut Map<String, Value>,
        column: &str,
        want: T,
        have: T,
        value: impl FnOnce(T) -> Value,
        what: &str,
    ) {
        if want != have {
            self.plan.changes.push(format!("set {column} of {what}"));
            row.insert(column.into(), value(want));
        }
    }

    fn bridge(&mut self, w: &Bridge, h: &Bridge) {
        let Some(uuid) = h.uuid.clone() else { return };
        let what = format!("bridge {}", w.name);
        let mut row = Map::new();
        self.set(
            &mut row,
            "fail_mode",
            w.fail_mode.clone(),
            h.fail_mode.clone(),
            to_optional,
            &what,
        );
        self.set(
            &mut row,
            "mcast_snooping_enable",
            w.mcast_snooping,
            h.mcast_snooping,
            Value::from,
            &what,
        );
        self.set(&mut row, "rstp_enable", w.rstp, h.rstp, Value::from, &what);
        let mut protocols = w.protocols.clone();
        protocols.sort();
        self.set(
            &mut row,
            "protocols",
            protocols,
            h.protocols.clone(),
            |p| to_set(&p),
            &what,
        );
        let mut controllers = w.controllers.clone();
        controllers.sort();
        if controllers != h.controllers {
            self.plan.changes.push(format!("set controller of {what}"));
            let refs = self.insert_controllers(&controllers);
            row.insert("controller".into(), to_ref_set(refs));
        }
        self.merge_ids_and_config(&mut row, w, h, &what);
        let mut add = Vec::new();
        for wp in &w.ports {
            if let Some(hp) = h.ports.iter().find(|p| p.name == wp.name) {
                self.port(wp, hp, &w.name);
                continue;
            }
            let elsewhere = self
                .have
                .bridges
                .iter()
                .find(|b| b.name != w.name && b.ports.iter().any(|p| p.name == wp.name));
            match elsewhere {
                Some(other) => self.plan.warnings.push(format!(
                    "port {} is on bridge {}, not {}: left there",
                    wp.name, other.name, w.name
                )),
                None => {
                    self.plan
                        .changes
                        .push(format!("add port {} to {}", wp.name, w.name));
                    add.push(self.insert_port(wp));
                }
            }
        }
        let del = self.unwanted(&h.ports, &w.ports, |name| {
            format!("remove port {name} from {}", w.name)
        });
        self.update("Bridge", &uuid, row);
        self.mutate("Bridge", &uuid, "ports", add, del);
    }

    /// References to the rows of `have` that carry Plinth's mark and that `want` no longer
    /// names, each said as `change(name)`: the database drops them once unreferenced.
    fn unwanted<R: Row>(
        &mut self,
        have: &[R],
        want: &[R],
        change: impl Fn(&str) -> String,
    ) -> Vec<Value> {
        have.iter()
            .filter(|h| managed(h.external_ids()) && !want.iter().any(|w| w.name() == h.name()))
            .filter_map(|h| {
                self.plan.changes.push(change(h.name()));
                h.uuid().map(to_uuid)
            })
            .collect()
    }

    fn port(&mut self, w: &Port, h: &Port, bridge: &str) {
        let Some(uuid) = h.uuid.clone() else { return };
        let what = format!("port {} of {bridge}", w.name);
        let mut row = Map::new();
        self.set(&mut row, "tag", w.tag, h.tag, to_optional, &what);
        self.set(
            &mut row,
            "fake_bridge",
            w.fake_bridge,
            h.fake_bridge,
            Value::from,
            &what,
        );
        self.set(
            &mut row,
            "bond_mode",
            w.bond_mode.clone(),
            h.bond_mode.clone(),
            to_optional,
            &what,
        );
        self.set(
            &mut row,
            "lacp",
            w.lacp.clone(),
            h.lacp.clone(),
            to_optional,
            &what,
        );
        self.merge_ids_and_config(&mut row, w, h, &what);
        let mut add = Vec::new();
        for wi in &w.interfaces {
            match h.interfaces.iter().find(|i| i.name == wi.name) {
                Some(hi) => self.interface(wi, hi),
                None => {
                    self.plan
                        .changes
                        .push(format!("add interface {} to {what}", wi.name));
                    add.push(self.insert_interface(wi));
                }
            }
        }
        let del = self.unwanted(&h.interfaces, &w.interfaces, |name| {
            format!("remove interface {name} from {what}")
        });
        self.update("Port", &uuid, row);
        self.mutate("Port", &uuid, "interfaces", add, del);
    }

    fn interface(&mut self, w: &Interface, h: &Interface) {
        let Some(uuid) = h.uuid.clone() else { return };
        let what = format!("interface {}", w.name);
        let mut row = Map::new();
        let kind = |k: &str| {
            if k == "system" {
                String::new()
            } else {
                k.to_owned()
            }
        };
        self.set(
            &mut row,
            "type",
            kind(&w.kind),
            kind(&h.kind),
            Value::from,
            &what,
        );
        self.merge(&mut row, "options", &w.options, &h.options, &what);
        self.merge_ids_and_config(&mut row, w, h, &what);
        self.set(
            &mut row,
            "mtu_request",
            w.mtu_request,
            h.mtu_request,
            to_optional,
            &what,
        );
        self.update("Interface", &uuid, row);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ovs::model::MANAGED_KEY;

    fn mark() -> BTreeMap<String, String> {
        BTreeMap::from([(MANAGED_KEY.to_owned(), "true".to_owned())])
    }

    fn want() -> Switch {
        Switch {
            bridges: vec![Bridge {
                name: "br0".into(),
                fail_mode: Some("standalone".into()),
                external_ids: mark(),
                ports: vec![Port {
                    name: "br0".into(),
                    external_ids: mark(),
                    interfaces: vec![Interface {
                        name: "br0".into(),
                        kind: "internal".into(),
                        external_ids: mark(),
                        ..Interface::default()
                    }],
                    ..Port::default()
                }],
                ..Bridge::default()
            }],
            ..Switch::default()
        }
    }

    /// `want` as the database would hold it after applying: uuids on every row.
    fn held(want: &Switch) -> Switch {
        let mut s = want.clone();
        s.uuid = Some("root".into());
        for (i, b) in s.bridges.iter_mut().enumerate() {
            b.uuid = Some(format!("b{i}"));
            for (j, p) in b.ports.iter_mut().enumerate() {
                p.uuid = Some(format!("p{i}{j}"));
                for (k, f) in p.interfaces.iter_mut().enumerate() {
                    f.uuid = Some(format!("i{i}{j}{k}"));
                }
            }
        }
        s
    }

    #[test]
    fn a_new_database_gets_the_root_row_with_the_bridge_children_first() {
        let p = plan(&want(), &Switch::default());
        let tables: Vec<&str> = p.ops.iter().map(|o| o["table"].as_str().unwrap()).collect();
        assert_eq!(tables, ["Interface", "Port", "Bridge", "Open_vSwitch"]);
        assert_eq!(
            p.ops[3]["row"]["bridges"],
            json!(["set", [["named-uuid", "row3"]]])
        );
        assert_eq!(p.ops[2]["row"]["fail_mode"], json!("standalone"));
    }

    #[test]
    fn what_the_database_holds_plans_nothing() {
        let mut have = held(&want());
        have.external_ids
            .insert("system-id".into(), "someone-elses".into());
        have.bridges[0]
            .external_ids
            .insert("other".into(), "kept".into());
        let p = plan(&want(), &have);
        assert!(p.ops.is_empty(), "{:#?}", p.ops);
    }

    #[test]
    fn changed_columns_only_and_unmarked_ports_stay() {
        let mut have = held(&want());
        have.bridges[0].fail_mode = Some("secure".into());
        have.bridges[0].ports.push(Port {
            uuid: Some("theirs".into()),
            name: "tap0".into(),
            ..Port::default()
        });
        have.bridges[0].ports.push(Port {
            uuid: Some("ours".into()),
            name: "old0".into(),
            external_ids: mark(),
            ..Port::default()
        });
        let p = plan(&want(), &have);
        assert_eq!(
            p.changes,
            ["set fail_mode of bridge br0", "remove port old0 from br0"]
        );
        assert_eq!(p.ops[0]["op"], "update");
        assert_eq!(p.ops[0]["row"], json!({"fail_mode": "standalone"}));
        assert_eq!(
            p.ops[1]["mutations"],
            json!([["ports", "delete", ["set", [["uuid", "ours"]]]]])
        );
    }

    #[test]
    fn a_bridge_no_longer_wanted_goes_only_when_marked() {
        let mut have = held(&want());
        have.bridges.push(Bridge {
            uuid: Some("bx".into()),
            name: "br-theirs".into(),
            ..Bridge::default()
        });
        let p = plan(&Switch::default(), &have);
        assert_eq!(p.changes, ["remove bridge br0"]);
        assert_eq!(
            p.ops[0]["mutations"],
            json!([["bridges", "delete", ["set", [["uuid", "b0"]]]]])
        );
    }
}
