//! Property tests: the parser never panics, on any input — random bytes, YAML-ish noise, and mutations
//! of real configs — and always answers with a config or with diagnostics that have positions.

use proptest::prelude::*;

const SEED: &str = include_str!("../examples/hyperconverged.yaml");

/// A user-data in `cloud-init devel make-mime`'s layout, with nested, base64 and archive parts.
const MULTIPART: &str = "Content-Type: multipart/mixed; boundary=\"==b==\"\nMIME-Version: 1.0\n\n--==b==\nContent-Type: text/cloud-config; charset=\"us-ascii\"\nContent-Disposition: attachment; filename=\"c.yaml\"\n\n#cloud-config\nhostname: a\nmerge_how: 'list(append)+dict(recurse_array)+str()'\nruncmd: [x]\n--==b==\nContent-Type: multipart/mixed; boundary=inner\n\n--inner\nContent-Type: text/x-shellscript\nContent-Transfer-Encoding: base64\n\nIyEvYmluL3NoCmVjaG8gaGkK\n--inner--\n--==b==\nContent-Type: text/cloud-config-archive\n\n- 'runcmd: [y]'\n- type: text/cloud-boothook\n  content: 'echo early'\n--==b==--\n";

fn check(text: &str) {
    match plinth_config::parse("fuzz", text) {
        Ok(parsed) => {
            let _ = parsed.config.redacted();
        }
        Err(diags) => {
            assert!(diags.has_errors());
            for d in &diags.0 {
                let line = d.to_string();
                assert!(
                    line.starts_with("fuzz:") || line.starts_with("fuzz (part "),
                    "{line}"
                );
            }
        }
    }
    let _ = plinth_config::parse_network("fuzz", text);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings(text in "\\PC{0,400}") {
        check(&text);
    }

    #[test]
    fn yaml_like_noise(text in "([a-z_:\\- \\[\\]{},&*!|>'\"#0-9.\n]|plinth|network|ethernets|services){0,200}") {
        check(&text);
    }

    #[test]
    fn mutated_real_config(cut in 0usize..4000, insert in "[\\PC\n]{0,12}", delete in 0usize..16) {
        let mut text = SEED.to_owned();
        let at = cut.min(text.len());
        let at = (0..=at).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
        let end = (at + delete).min(text.len());
        let end = (end..=text.len()).find(|i| text.is_char_boundary(*i)).unwrap_or(text.len());
        text.replace_range(at..end, &insert);
        check(&text);
    }

    #[test]
    fn mutated_multipart(cut in 0usize..800, insert in "[\\PC\n=\\-]{0,12}", delete in 0usize..16) {
        let mut text = MULTIPART.to_owned();
        let at = cut.min(text.len());
        let end = (at + delete).min(text.len());
        text.replace_range(at..end, &insert);
        check(&text);
    }
}

#[test]
fn deep_nesting_is_refused_not_a_stack_overflow() {
    let deep = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
    assert!(plinth_config::parse("deep", &deep).is_err());
    let mut block = String::from("#cloud-config\n");
    for i in 0..500 {
        block.push_str(&" ".repeat(i));
        block.push_str("a:\n");
    }
    assert!(plinth_config::parse("deep", &block).is_err());
}

#[test]
fn huge_documents_are_refused() {
    let huge = format!(
        "#cloud-config\nruncmd:\n{}",
        "  - echo aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n".repeat(120_000)
    );
    let err = plinth_config::parse("huge", &huge).unwrap_err();
    assert!(err.to_string().contains("limit"), "{err}");
}

#[test]
fn every_type_error_is_reported_up_to_a_cap() {
    let mut text = String::from("#cloud-config\nplinth:\n  services:\n");
    for i in 0..40 {
        text.push_str(&format!("    - name: s{i}\n      exec: 5\n"));
    }
    let diags = plinth_config::parse("many", &text).unwrap_err();
    assert_eq!(diags.errors().count(), 40, "{diags}");
    for i in 0..40 {
        let line = 5 + 2 * i;
        assert!(
            diags
                .to_string()
                .contains(&format!("many:{line}:13: error: expected a list")),
            "{diags}"
        );
    }
    for i in 40..100 {
        text.push_str(&format!("    - name: s{i}\n      exec: 5\n"));
    }
    let diags = plinth_config::parse("many", &text).unwrap_err();
    assert_eq!(
        diags.errors().count(),
        65,
        "64 errors and the note that it stopped"
    );
    assert!(
        diags
            .to_string()
            .contains("too many errors: stopped after 64")
    );
}

/// Key names the typed config knows, so random documents reach deep into the typed read and the
/// validation instead of stopping at the first unknown key.
const KEYS: &[&str] = &[
    "hostname",
    "fqdn",
    "users",
    "name",
    "groups",
    "ssh_authorized_keys",
    "write_files",
    "path",
    "content",
    "encoding",
    "permissions",
    "owner",
    "ntp",
    "servers",
    "pools",
    "runcmd",
    "bootcmd",
    "network",
    "version",
    "ethernets",
    "eth0",
    "bonds",
    "bond0",
    "vlans",
    "bridges",
    "br0",
    "interfaces",
    "parameters",
    "mode",
    "addresses",
    "routes",
    "to",
    "via",
    "dhcp4",
    "match",
    "macaddress",
    "id",
    "link",
    "mtu",
    "plinth",
    "cluster",
    "role",
    "endpoint",
    "token",
    "k3s",
    "kubernetes",
    "pod_cidr",
    "service_cidr",
    "cni",
    "advertise_address",
    "certificate_key",
    "ca_cert_hash",
    "ca",
    "etcd",
    "member",
    "client_port",
    "genestack",
    "roles",
    "ovn",
    "bridges",
    "mappings",
    "storage",
    "longhorn",
    "device",
    "lvm",
    "devices",
    "ovs",
    "kernel",
    "modules",
    "sysctls",
    "time",
    "boot_timeout",
    "exporters",
    "node_exporter",
    "listen",
    "services",
    "exec",
    "after",
    "ready",
    "tcp",
    "restart",
    "oneshot",
    "stop_timeout",
    "install",
    "serial",
    "wipe",
    "manage_etc_hosts",
];

fn value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-70000i64..70000).prop_map(Value::from),
        prop_oneof![
            Just("agent".to_owned()),
            Just("init".to_owned()),
            Just("server".to_owned()),
            Just("/dev/sdb".to_owned()),
            Just("10.0.0.1/24".to_owned()),
            Just("10.0.0.1".to_owned()),
            Just("default".to_owned()),
            Just("eth0".to_owned()),
            Just("a".to_owned()),
            Just("30s".to_owned()),
            "[a-z0-9./:-]{0,12}",
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(
                prop::sample::select(KEYS).prop_map(str::to_owned),
                inner,
                0..5
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// JSON is YAML: random documents built from real key names. Whatever parses must survive
    /// `to_yaml` and parse back to the same config.
    #[test]
    fn structured_documents(doc in prop::collection::btree_map(prop::sample::select(KEYS).prop_map(str::to_owned), value(), 0..6)) {
        let text = serde_json::to_string(&doc).unwrap();
        check(&text);
        if let Ok(parsed) = plinth_config::parse("fuzz", &text) {
            let yaml = parsed.config.to_yaml();
            let again = plinth_config::parse("again", &yaml);
            prop_assert!(again.is_ok(), "re-parse of\n{yaml}\nfailed: {}", again.unwrap_err());
            prop_assert_eq!(again.unwrap().config, parsed.config);
        }
    }
}
