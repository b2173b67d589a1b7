//! The effective config as shown to operators (`plinthctl config`, logs): secrets replaced by
//! `"<redacted>"` — the cluster's bootstrap token, certificate key and CA key, SSH keys, password
//! hashes, file contents, service environments. The CA certificate and the CA pin are public.

use serde_json::Value;

use crate::config::MachineConfig;

/// The placeholder for a hidden value.
pub const REDACTED: &str = "<redacted>";

impl MachineConfig {
    /// The config as JSON with every secret replaced by `"<redacted>"`.
    pub fn redacted(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        hide(&mut v, &["ssh_authorized_keys"], true);
        hide(&mut v, &["plinth", "cluster", "token"], false);
        hide(&mut v, &["plinth", "cluster", "certificate_key"], false);
        hide(&mut v, &["plinth", "cluster", "ca", "key"], false);
        if let Some(Value::Array(users)) = v.get_mut("users") {
            for user in users {
                hide(user, &["hashed_passwd"], false);
                hide(user, &["passwd"], false);
                hide(user, &["ssh_authorized_keys"], true);
            }
        }
        if let Some(Value::Array(files)) = v.get_mut("write_files") {
            for file in files {
                hide(file, &["content"], false);
            }
        }
        if let Some(Value::Array(services)) = v.pointer_mut("/plinth/services") {
            for service in services {
                if let Some(Value::Object(env)) = service.get_mut("env") {
                    env.values_mut()
                        .for_each(|val| *val = Value::String(REDACTED.to_owned()));
                }
            }
        }
        v
    }

    /// The config as a `#cloud-config` document (secrets included: for writing the state copy, not
    /// for showing). [`crate::parse`] reads it back to an equal config.
    pub fn to_yaml(&self) -> String {
        format!(
            "#cloud-config\n{}",
            serde_saphyr::to_string(self).unwrap_or_default()
        )
    }
}

/// Replaces the value at `path` (or, with `each`, every element of the list there).
fn hide(v: &mut Value, path: &[&str], each: bool) {
    let mut node = v;
    for key in path {
        match node.get_mut(*key) {
            Some(next) => node = next,
            None => return,
        }
    }
    match node {
        Value::Array(items) if each => items
            .iter_mut()
            .for_each(|i| *i = Value::String(REDACTED.to_owned())),
        Value::Null => {}
        other => *other = Value::String(REDACTED.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use crate::parse;

    #[test]
    fn hides_secrets_and_keeps_the_rest() {
        let text = "#cloud-config\nhostname: n1\nssh_authorized_keys: [ssh-ed25519 AAAA root]\nusers:\n  - name: ops\n    hashed_passwd: $6$x$y\n    ssh_authorized_keys: [ssh-rsa BBBB ops]\nwrite_files:\n  - path: /etc/secret\n    content: hunter2\nplinth:\n  cluster:\n    role: agent\n    endpoint: 10.0.0.1\n    token: s3cr3t.t0k3ns3cr3tabcde\n  services:\n    - name: x\n      exec: [/bin/x]\n      env: {API_KEY: abc}\n";
        let config = parse("t", text).unwrap().config;
        let r = config.redacted();
        let shown = r.to_string();
        for secret in ["AAAA", "BBBB", "$6$x$y", "hunter2", "s3cr3t", "abc"] {
            assert!(!shown.contains(secret), "{secret} leaked: {shown}");
        }
        assert_eq!(r["hostname"], "n1");
        assert_eq!(r["users"][0]["name"], "ops");
        assert_eq!(r["write_files"][0]["path"], "/etc/secret");
        assert_eq!(r["plinth"]["cluster"]["token"], "<redacted>");
        assert_eq!(r["plinth"]["cluster"]["endpoint"], "10.0.0.1");
        assert_eq!(r["plinth"]["services"][0]["env"]["API_KEY"], "<redacted>");
    }

    #[test]
    fn hides_the_control_plane_secrets_and_keeps_the_ca_certificate() {
        let key = "9c4e1a7f3b8d2e6a0f5c9b3d7e1a4f8c2b6d0e9a3f7c1b5d8e2a6f0c4b9d3e7a";
        let text = format!(
            "#cloud-config\nplinth:\n  cluster:\n    role: init\n    token: 7k3m9q.4f8h2j6l0n1p3r5t\n    certificate_key: {key}\n    ca:\n      cert: |\n        -----BEGIN CERTIFICATE-----\n        MIIBpublic\n        -----END CERTIFICATE-----\n      key: |\n        -----BEGIN PRIVATE KEY-----\n        MIIEprivate\n        -----END PRIVATE KEY-----\n"
        );
        let config = parse("t", &text).unwrap().config;
        let r = config.redacted();
        let shown = r.to_string();
        for secret in ["4f8h2j6l0n1p3r5t", key, "MIIEprivate", "PRIVATE KEY"] {
            assert!(!shown.contains(secret), "{secret} leaked: {shown}");
        }
        let cluster = &r["plinth"]["cluster"];
        assert_eq!(cluster["token"], "<redacted>");
        assert_eq!(cluster["certificate_key"], "<redacted>");
        assert_eq!(cluster["ca"]["key"], "<redacted>");
        assert!(
            cluster["ca"]["cert"]
                .as_str()
                .unwrap()
                .contains("MIIBpublic")
        );
        assert_eq!(cluster["role"], "init");
        assert_eq!(cluster["kubernetes"]["service_cidr"], "10.233.0.0/18");
        let without = parse("t", "#cloud-config\nplinth:\n  cluster:\n    role: init\n")
            .unwrap()
            .config
            .redacted();
        assert!(
            without["plinth"]["cluster"]
                .get("certificate_key")
                .is_none()
        );
        assert!(without["plinth"]["cluster"].get("ca").is_none());
    }
}
