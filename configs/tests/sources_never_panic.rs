//! Property tests for the readers of outside bytes besides the YAML front end: the kernel command
//! line, and NoCloud seeds and config drives as directories of files holding anything (bytes
//! that are not UTF-8, JSON-ish noise, YAML-ish noise). Each answers with a config or with
//! diagnostics, never a panic.

use std::path::{Path, PathBuf};

use plinth_config::sources::{cmdline, config_drive, nocloud};
use proptest::prelude::*;

/// A directory for this test process, emptied.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("plinth-src-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, bytes: &Option<Vec<u8>>) {
    let path = dir.join(name);
    match bytes {
        Some(b) => std::fs::write(path, b).unwrap(),
        None => {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// File contents: absent, any bytes, or text shaped like what the file should hold.
fn contents(shaped: &'static str) -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![
        Just(None),
        prop::collection::vec(any::<u8>(), 0..200).prop_map(Some),
        shaped.prop_map(|s| Some(s.into_bytes())),
    ]
}

const YAMLISH: &str =
    "(#cloud-config\n)?([a-z_:\\- \\[\\]{},'\"#0-9.\n]|hostname|instance-id|plinth|network){0,80}";
const JSONISH: &str = "[{}\\[\\]\",:0-9a-z_ \n]{0,60}|\\{\"(hostname|name|uuid|public_keys|links|networks)\": ?(\"[a-z0-9.-]{0,12}\"|\\[\\]|\\{\\}|1)\\}";

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_command_line_parses_or_is_refused(line in "([ -~]|plinth\\.config(\\.sha256)?=|ds=nocloud(-net)?;s=|\"){0,120}") {
        let _ = cmdline::split(&line);
        let _ = cmdline::parse(&line);
    }

    #[test]
    fn any_nocloud_seed_is_read_without_a_panic(
        user in contents(YAMLISH),
        meta in contents(YAMLISH),
        network in contents(YAMLISH),
        vendor in contents(YAMLISH),
    ) {
        let dir = scratch("nocloud");
        write(&dir, "user-data", &user);
        write(&dir, "meta-data", &meta);
        write(&dir, "network-config", &network);
        write(&dir, "vendor-data", &vendor);
        if let Err(diags) = nocloud::load(&dir) {
            prop_assert!(diags.has_errors());
        }
    }

    #[test]
    fn any_config_drive_is_read_without_a_panic(
        user in contents(YAMLISH),
        meta in contents(JSONISH),
        network in contents(JSONISH),
    ) {
        let dir = scratch("drive");
        let latest = dir.join("openstack/latest");
        std::fs::create_dir_all(&latest).unwrap();
        write(&latest, "user_data", &user);
        write(&latest, "meta_data.json", &meta);
        write(&latest, "network_data.json", &network);
        if let Err(diags) = config_drive::load(&dir) {
            prop_assert!(diags.has_errors());
        }
    }
}
