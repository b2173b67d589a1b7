//! User-data in each format cloud-init reads, as real tools write it: `cloud-init devel make-mime`'s
//! layout, Terraform's `cloudinit_config` layout, base64 and quoted-printable parts, gzip parts,
//! nested multiparts, `#cloud-config-archive`, scripts and boothooks, jinja, and cloud-init's
//! leniencies; each error names its part and the line:column inside it.

use std::io::Write;

use base64::Engine;
use plinth_config::cloud_init::{Command, Frequency};
use plinth_config::user_data::include::{Included, Unfetched};
use plinth_config::{Diagnostics, Parsed, parse, parse_with};

fn ok(text: &str) -> Parsed {
    parse("user-data", text).unwrap_or_else(|d| panic!("{d}"))
}

fn err(text: &str) -> String {
    parse("user-data", text).unwrap_err().to_string()
}

fn warnings(p: &Parsed) -> Vec<String> {
    p.warnings.iter().map(ToString::to_string).collect()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn b64(data: &[u8]) -> String {
    let text = base64::engine::general_purpose::STANDARD.encode(data);
    // As Python's email package wraps it: 76 columns.
    text.as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// What `cloud-init devel make-mime -a config.yaml:cloud-config -a script.sh:x-shellscript` prints.
fn make_mime(parts: &[(&str, &str, &str)]) -> String {
    let boundary = "===============4291038100093149247==";
    let mut out =
        format!("Content-Type: multipart/mixed; boundary=\"{boundary}\"\nMIME-Version: 1.0\n\n");
    for (name, subtype, body) in parts {
        out.push_str(&format!(
            "--{boundary}\nContent-Type: text/{subtype}; charset=\"us-ascii\"\nMIME-Version: 1.0\nContent-Transfer-Encoding: 7bit\nContent-Disposition: attachment; filename=\"{name}\"\n\n{body}\n"
        ));
    }
    out.push_str(&format!("--{boundary}--\n"));
    out
}

const CONFIG: &str = "#cloud-config\nhostname: mp-node\nwrite_files:\n  - path: /etc/plinth-test\n    content: hello\nruncmd:\n  - echo first\n";
const SCRIPT: &str = "#!/bin/sh\necho marker > /var/lib/marker\n";

#[test]
fn make_mime_layout_gives_config_and_script() {
    let p = ok(&make_mime(&[
        ("config.yaml", "cloud-config", CONFIG),
        ("script.sh", "x-shellscript", SCRIPT),
    ]));
    assert_eq!(p.config.hostname.as_deref(), Some("mp-node"));
    assert_eq!(p.config.write_files[0].path, "/etc/plinth-test");
    let scripts = &p.config.user_scripts.scripts;
    assert_eq!(scripts.len(), 1);
    assert_eq!(scripts[0].name, "script.sh");
    assert_eq!(scripts[0].frequency, Frequency::Instance);
    assert_eq!(scripts[0].body, SCRIPT);
    assert!(p.warnings.is_empty(), "{:?}", warnings(&p));
}

#[test]
fn the_multipart_of_the_issue_is_no_longer_a_yaml_error() {
    // Terraform's cloudinit_config (gzip = false, base64_encode = false) writes this layout, headers
    // in its own order and CRLF line ends.
    let text = "Content-Type: multipart/mixed; boundary=\"MIMEBOUNDARY\"\r\nMIME-Version: 1.0\r\n\r\n--MIMEBOUNDARY\r\nContent-Disposition: attachment; filename=\"cloud-config.yaml\"\r\nContent-Transfer-Encoding: 7bit\r\nContent-Type: text/cloud-config\r\nMime-Version: 1.0\r\n\r\n#cloud-config\r\nhostname: tf-node\r\n\r\n--MIMEBOUNDARY\r\nContent-Disposition: attachment; filename=\"init.sh\"\r\nContent-Transfer-Encoding: 7bit\r\nContent-Type: text/x-shellscript\r\nMime-Version: 1.0\r\n\r\n#!/bin/bash\r\necho hi\r\n\r\n--MIMEBOUNDARY--\r\n";
    let p = ok(text);
    assert_eq!(p.config.hostname.as_deref(), Some("tf-node"));
    assert_eq!(p.config.user_scripts.scripts[0].name, "init.sh");
}

#[test]
fn base64_quoted_printable_and_gzip_parts() {
    let config = b64(CONFIG.as_bytes());
    let script = b64(&gzip(SCRIPT.as_bytes()));
    let text = format!(
        "Content-Type: multipart/mixed; boundary=\"b\"\nMIME-Version: 1.0\n\n--b\nContent-Type: text/cloud-config\nContent-Transfer-Encoding: base64\n\n{config}\n--b\nContent-Type: application/x-gzip\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=\"s.sh.gz\"\n\n{script}\n--b\nContent-Type: text/cloud-config\nContent-Transfer-Encoding: quoted-printable\n\ntimezone: Europe/Paris\nntp:=20\n  servers: [ntp.example=\n.com]\n--b--\n"
    );
    let p = ok(&text);
    assert_eq!(p.config.hostname.as_deref(), Some("mp-node"));
    assert_eq!(p.config.timezone.as_deref(), Some("Europe/Paris"));
    assert_eq!(p.config.ntp.unwrap().servers, ["ntp.example.com"]);
    assert_eq!(
        p.config.user_scripts.scripts[0].body, SCRIPT,
        "gunzipped, type from `#!`"
    );
}

#[test]
fn nested_multiparts_are_walked_in_order() {
    let inner = "Content-Type: multipart/mixed; boundary=\"inner\"\nMIME-Version: 1.0\n\n--inner\nContent-Type: text/x-shellscript\n\n#!/bin/sh\necho two\n--inner\nContent-Type: text/cloud-boothook\n\n#cloud-boothook\n#!/bin/sh\necho early\n--inner--\n";
    let text = format!(
        "Content-Type: multipart/mixed; boundary=\"outer\"\nMIME-Version: 1.0\n\n--outer\nContent-Type: text/x-shellscript\n\n#!/bin/sh\necho one\n--outer\n{inner}\n--outer\nContent-Type: text/cloud-config\n\nhostname: nested\n--outer--\n"
    );
    let p = ok(&text);
    let s = &p.config.user_scripts;
    let bodies: Vec<&str> = s.scripts.iter().map(|s| s.body.as_str()).collect();
    assert_eq!(bodies, ["#!/bin/sh\necho one", "#!/bin/sh\necho two"]);
    assert_eq!(s.scripts[0].name, "part-001");
    assert_eq!(s.scripts[1].name, "part-002");
    assert_eq!(s.boothooks[0].body, "#!/bin/sh\necho early");
    assert_eq!(p.config.hostname.as_deref(), Some("nested"));
}

#[test]
fn whole_user_data_may_be_gzip_compressed_multipart() {
    let packed = gzip(make_mime(&[("c.yaml", "cloud-config", CONFIG)]).as_bytes());
    let text = plinth_config::sources::text_of("user-data", &packed).unwrap();
    assert_eq!(ok(&text).config.hostname.as_deref(), Some("mp-node"));
}

#[test]
fn parts_merge_with_cloud_inits_default_and_merge_how() {
    let second = "#cloud-config\nruncmd:\n  - echo second\n";
    let p = ok(&make_mime(&[
        ("a.yaml", "cloud-config", CONFIG),
        ("b.yaml", "cloud-config", second),
    ]));
    assert_eq!(
        p.config.runcmd,
        [Command::Shell("echo second".into())],
        "dict(replace): the later part's key replaces the earlier value"
    );
    assert_eq!(
        p.config.hostname.as_deref(),
        Some("mp-node"),
        "other keys stay"
    );

    let appending = "#cloud-config\nmerge_how:\n - name: list\n   settings: [append]\n - name: dict\n   settings: [no_replace, recurse_list]\nruncmd:\n  - echo second\n";
    let p = ok(&make_mime(&[
        ("a.yaml", "cloud-config", CONFIG),
        ("b.yaml", "cloud-config", appending),
    ]));
    assert_eq!(
        p.config.runcmd,
        [
            Command::Shell("echo first".into()),
            Command::Shell("echo second".into())
        ]
    );
    assert!(
        p.warnings.is_empty(),
        "merge_how is not an unknown key: {:?}",
        warnings(&p)
    );

    let header = make_mime(&[
        ("a.yaml", "cloud-config", CONFIG),
        ("b.yaml", "cloud-config", second),
    ])
    .replacen(
        "filename=\"b.yaml\"",
        "filename=\"b.yaml\"\nMerge-Type: list(append)+dict(recurse_array)+str()",
        1,
    );
    assert_eq!(ok(&header).config.runcmd.len(), 2, "Merge-Type header");

    // The part's own mergers come first, the header's fill the types they leave out.
    let both = make_mime(&[
        ("a.yaml", "cloud-config", CONFIG),
        (
            "b.yaml",
            "cloud-config",
            "#cloud-config\nmerge_how: 'list(append)'\nruncmd: [echo second]\nhostname: other\n",
        ),
    ])
    .replacen(
        "filename=\"b.yaml\"",
        "filename=\"b.yaml\"\nMerge-Type: dict(no_replace,recurse_list)+list(prepend)",
        1,
    );
    let p = ok(&both);
    assert_eq!(
        p.config.runcmd.len(),
        2,
        "list(append) from the part, dict from the header"
    );
    assert_eq!(
        p.config.runcmd[1],
        Command::Shell("echo second".into()),
        "append, not the header's prepend"
    );
    assert_eq!(
        p.config.hostname.as_deref(),
        Some("mp-node"),
        "the header's no_replace"
    );

    // Without a dict merger cloud-init ignores the part's keys: so does Plinth, saying so.
    let p = ok("#cloud-config\nmerge_how: 'list(append)'\nhostname: lost\n");
    assert_eq!(p.config.hostname, None);
    assert!(
        warnings(&p)[0].contains("no `dict` merger"),
        "{:?}",
        warnings(&p)
    );
}

#[test]
fn errors_name_the_part_and_the_position_inside_it() {
    let bad = "#cloud-config\nhostname: ok\nplinth:\n  services: 7\n";
    let e = err(&make_mime(&[
        ("good.yaml", "cloud-config", CONFIG),
        ("bad.yaml", "cloud-config", bad),
    ]));
    assert!(
        e.contains("user-data (part 2, bad.yaml):4:13: error: expected a list"),
        "{e}"
    );
    let broken = "#cloud-config\nhostname: a\n  b: c\n";
    let e = err(&make_mime(&[
        ("x.sh", "x-shellscript", SCRIPT),
        ("y.yaml", "cloud-config", broken),
    ]));
    assert!(e.starts_with("user-data (part 2, y.yaml):3:"), "{e}");
    let unnamed = "Content-Type: multipart/mixed; boundary=b\nMIME-Version: 1.0\n\n--b\nContent-Type: text/cloud-config\n\n- a list\n--b--\n";
    assert!(
        err(unnamed).contains("user-data (part 1):1:1: error: a cloud-config part is a mapping"),
        "{}",
        err(unnamed)
    );
}

#[test]
fn cloud_config_archive() {
    let text = "#cloud-config-archive\n- type: text/cloud-config\n  content: |\n    hostname: archived\n    runcmd: [one]\n- content: |\n    #!/bin/sh\n    echo archived\n  filename: a.sh\n- type: text/cloud-config\n  Merge-Type: 'list(append)+dict(recurse_array)+str()'\n  content: 'runcmd: [two]'\n";
    let p = ok(text);
    assert_eq!(p.config.hostname.as_deref(), Some("archived"));
    assert_eq!(p.config.runcmd.len(), 2);
    assert_eq!(p.config.user_scripts.scripts[0].name, "a.sh");
    let e = err("#cloud-config-archive\n- content: 'plinth: {services: 7}'\n");
    assert!(e.contains("user-data (part 1):1:"), "{e}");
    assert!(
        err("#cloud-config-archive\nhostname: x\n")
            .contains("user-data:2:1: error: a #cloud-config-archive is a list")
    );
}

#[test]
fn scripts_and_boothooks_alone() {
    let p = ok("#!/bin/bash\necho hi\n");
    assert_eq!(p.config.user_scripts.scripts.len(), 1);
    assert_eq!(p.config.hostname, None);
    let p = ok("#cloud-boothook\n#!/bin/sh\necho early\n");
    assert_eq!(
        p.config.user_scripts.boothooks[0].body,
        "#!/bin/sh\necho early\n"
    );
}

#[test]
fn jinja_unsupported_unless_it_needs_no_rendering() {
    let e = err("## template: jinja\n#cloud-config\nhostname: {{ v1.local_hostname }}\n");
    assert!(
        e.contains("user-data:3:1: error: unsupported: `## template: jinja`"),
        "{e}"
    );
    let p = ok("## template: jinja\n#cloud-config\nhostname: plain\n");
    assert_eq!(p.config.hostname.as_deref(), Some("plain"));
    let e = err("## template: jinja\n#cloud-config\nhostname: plain\nplinth: {services: 7}\n");
    assert!(
        e.starts_with("user-data:4:20: error: expected a list"),
        "lines as written: {e}"
    );
}

#[test]
fn unknown_and_unsupported_parts_are_named() {
    let text = "Content-Type: multipart/mixed; boundary=b\nMIME-Version: 1.0\n\n--b\nContent-Type: text/x-mystery\nContent-Disposition: attachment; filename=\"m.bin\"\n\nwhat\n--b\nContent-Type: text/part-handler\n\n#part-handler\ndef list_types(): pass\n--b--\n";
    let p = ok(text);
    let w = warnings(&p);
    assert!(
        w[0].starts_with("user-data (part 1, m.bin):1:1: warning: part type `text/x-mystery`"),
        "{w:?}"
    );
    assert!(
        w[1].contains("(part 2):1:1: warning: `#part-handler`"),
        "{w:?}"
    );
    let e = err("#include\nhttp://10.0.0.1/extra.yaml\n");
    assert!(
        e.contains("user-data:2:1: error: `#include` http://10.0.0.1/extra.yaml (text/x-include-url) not fetched: includes are fetched only by a booting node"),
        "{e}"
    );
    assert!(err("#cloud-config-jsonp\n[]\n").contains("unsupported: `#cloud-config-jsonp`"));
}

#[test]
fn leniencies_warn_outside_plinth_and_network_and_refuse_inside() {
    let p = ok("#cloud-config\nhostname: a\nhostname: b\n");
    assert_eq!(p.config.hostname.as_deref(), Some("b"));
    assert!(warnings(&p)[0].contains("3:1: warning: duplicate key `hostname` (first at 2:1): cloud-init (PyYAML) keeps the last one, and so does Plinth"));

    let p =
        ok("#cloud-config\nusers:\n  - default\n  - snapuser: joe@example.com\n  - name: ops\n");
    assert_eq!(p.config.users.len(), 1);
    assert!(
        warnings(&p)[0].contains("4:5: warning: a users entry without `name` (`snapuser`)"),
        "{:?}",
        warnings(&p)
    );

    let p = ok(
        "#cloud-config\nwrite_files:\n  - path: /etc/x\n    content: !!binary |\n      aGVs*bG8K\n",
    );
    assert_eq!(p.config.write_files[0].content, "hello\n");
    assert!(
        warnings(&p)[0].contains("1 character(s) outside the base64 alphabet"),
        "{:?}",
        warnings(&p)
    );

    let e = err("#cloud-config\nnetwork:\n  version: 2\n  version: 2\n");
    assert!(e.contains("4:3: error: duplicate key `version` (first at 3:3): cloud-init (PyYAML) keeps the last one; under `network:` Plinth refuses it"), "{e}");
    let e = plinth_config::parse_network(
        "network-config",
        "version: 2\nethernets: {}\nethernets: {}\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("network-config:3:1: error: duplicate key `ethernets`"),
        "{e}"
    );
    assert!(e.contains("(at network.ethernets)"), "{e}");
}

#[test]
fn a_config_with_scripts_reads_back_equal_as_user_data() {
    let p = ok(&make_mime(&[
        ("config.yaml", "cloud-config", CONFIG),
        ("script.sh", "x-shellscript", SCRIPT),
    ]))
    .config;
    let again = ok(&p.to_user_data()).config;
    assert_eq!(again, p);
    let plain = ok(CONFIG).config;
    assert!(plain.to_user_data().starts_with("#cloud-config\n"));
}

#[test]
fn never_panics_on_broken_mime() {
    for text in [
        "MIME-Version: 1.0\nContent-Type: multipart/mixed\n\n",
        "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=x\n\nno delimiter\n",
        "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=x\n\n--x\nContent-Transfer-Encoding: base64\n\n!!!!\n--x--\n",
        "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: application/x-gzip\n\nnot gzip\n--x--\n",
        "MIME-Version: 1.0\n",
        "MIME-Version: 1.0\nContent-Type: text/cloud-config\n\nhostname: single\n",
    ] {
        let _: Result<Parsed, Diagnostics> = parse("u", text);
    }
    // A stack of jinja headers is bounded (PID 1 reads this), and so are many gzip parts.
    let stacked = "## template: jinja\n".repeat(10_000);
    assert!(err(&stacked).contains("nest more than"));
    let bomb = b64(&gzip(&vec![b'#'; 1024 * 1024 - 1]));
    let mut many = String::from("MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=x\n\n");
    for _ in 0..6 {
        many.push_str(&format!(
            "--x\nContent-Type: application/gzip\nContent-Transfer-Encoding: base64\n\n{bomb}\n"
        ));
    }
    many.push_str("--x--\n");
    assert!(many.len() < 64 * 1024, "{}", many.len());
    assert!(
        err(&many).contains("the parts together are more than"),
        "{}",
        err(&many)
    );
    assert_eq!(
        ok("MIME-Version: 1.0\nContent-Type: text/cloud-config\n\nhostname: single\n")
            .config
            .hostname
            .as_deref(),
        Some("single")
    );
}

#[test]
fn includes_read_what_the_reader_fetched_and_ask_for_the_rest() {
    let top = "#include\nhttp://seed/a.yaml\nhttp://seed/more\n";
    let mut inc = Included::new(Unfetched::Refuse("no network is up".into()));
    let e = parse_with("user-data", top, &inc).unwrap_err().to_string();
    assert!(e.contains("user-data:2:1: error: `#include` http://seed/a.yaml (text/x-include-url) not fetched: no network is up"), "{e}");
    assert_eq!(
        inc.take_wanted(),
        ["http://seed/a.yaml", "http://seed/more"]
    );

    // The first round's documents: one includes another, which the second round fetches.
    inc.insert(
        "http://seed/a.yaml",
        Ok(b"#cloud-config\nhostname: included\n".to_vec()),
    );
    inc.insert(
        "http://seed/more",
        Ok(gzip(
            make_mime(&[
                ("s.sh", "x-shellscript", SCRIPT),
                ("next.txt", "x-include-url", "http://seed/b.yaml"),
            ])
            .as_bytes(),
        )),
    );
    assert!(parse_with("user-data", top, &inc).is_err());
    assert_eq!(inc.take_wanted(), ["http://seed/b.yaml"]);
    inc.insert("http://seed/b.yaml", Ok(b"#cloud-config\nmerge_how: 'list(append)+dict(recurse_array)+str()'\nruncmd: [from-b]\nplinth:\n  services: 7\n".to_vec()));
    let e = parse_with("user-data", top, &inc).unwrap_err().to_string();
    assert!(
        e.contains("user-data (part 4, http://seed/b.yaml):5:13: error: expected a list"),
        "an error in an included document names it: {e}"
    );
    inc.insert(
        "http://seed/b.yaml",
        Ok(b"#cloud-config\nruncmd: [from-b]\n".to_vec()),
    );
    let p = parse_with("user-data", top, &inc).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(p.config.hostname.as_deref(), Some("included"));
    assert_eq!(p.config.runcmd, [Command::Shell("from-b".into())]);
    assert_eq!(p.config.user_scripts.scripts[0].name, "s.sh");
    assert!(inc.take_wanted().is_empty());

    inc.insert("http://seed/b.yaml", Err("404 Not Found".into()));
    let e = parse_with("user-data", top, &inc).unwrap_err().to_string();
    assert!(
        e.contains("(part 3, next.txt):1:1: error: `#include` http://seed/b.yaml: 404 Not Found"),
        "{e}"
    );

    let validator = Included::new(Unfetched::Warn("not fetched by validate".into()));
    let p = parse_with("user-data", top, &validator).unwrap();
    assert_eq!(p.warnings.len(), 2, "{:?}", warnings(&p));
}
