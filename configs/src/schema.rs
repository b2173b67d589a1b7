//! The JSON Schema of the machine config, generated from the Rust types (schemars), so editors with
//! yaml-language-server can complete and check configs. `configs/plinth.schema.json` is this output,
//! kept current by a test.

use crate::config::MachineConfig;

/// The JSON Schema (draft 2020-12) of [`MachineConfig`].
pub fn schema() -> serde_json::Value {
    let mut schema = schemars::schema_for!(MachineConfig).to_value();
    if let Some(obj) = schema.as_object_mut() {
        obj.insert(
            "$id".to_owned(),
            "https://example.invalid/plinth/plinth.schema.json".into(),
        );
    }
    schema
}

/// The schema as the committed file holds it: pretty JSON with a final newline.
pub fn schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&schema()).unwrap_or_default();
    text.push('\n');
    text
}
