//! The committed `configs/plinth.schema.json` must be what the code generates (regenerate with
//! `cargo xtask schema --write`), and the examples must satisfy its basic shape.

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
