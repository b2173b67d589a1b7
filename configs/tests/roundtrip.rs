//! Every example survives `to_yaml` and back: serialization and parsing agree on every key name.

use std::path::PathBuf;

#[test]
fn examples_round_trip_through_yaml() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let config = plinth_config::load_path(&path).unwrap().config;
        let yaml = config.to_yaml();
        let again = plinth_config::parse("roundtrip", &yaml)
            .unwrap_or_else(|e| panic!("{}: re-parse failed:\n{e}\n---\n{yaml}", path.display()))
            .config;
        assert_eq!(config, again, "{}", path.display());
        let warnings = plinth_config::parse("roundtrip", &yaml).unwrap().warnings;
        assert!(warnings.is_empty(), "{}: {warnings:?}", path.display());
    }
}
