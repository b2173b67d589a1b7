//! The committed `configs/plinth.schema.json` and `configs/REFERENCE.md` must be what the code
//! generates (regenerate both with `cargo xtask schema --write`).

use std::path::PathBuf;

#[test]
fn committed_schema_is_current() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("plinth.schema.json");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == plinth_config::schema::schema_text(),
        "{} is stale: run `cargo xtask schema --write` and commit it",
        path.display()
    );
}

#[test]
fn committed_reference_is_current() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("REFERENCE.md");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == plinth_config::reference::reference_markdown(),
        "{} is stale: run `cargo xtask schema --write` and commit it",
        path.display()
    );
}

#[test]
fn schema_describes_the_config() {
    let schema = plinth_config::schema();
    let props = &schema["properties"];
    for key in [
        "hostname",
        "users",
        "write_files",
        "network",
        "plinth",
        "runcmd",
    ] {
        assert!(props.get(key).is_some(), "schema lacks {key}");
    }
    let defs = schema["$defs"].as_object().unwrap();
    assert_eq!(
        defs["Plinth"]["additionalProperties"], false,
        "unknown keys under plinth: are errors"
    );
    assert!(defs["Role"].to_string().contains("agent"));
}
