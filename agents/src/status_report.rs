//! The `status` subcommand of the agents that keep a JSON report of their job (`storage`,
//! `compute`): read the report back and print it as a table or as JSON. `plinthctl storage` and
//! `plinthctl compute` hand over to these.

use std::path::Path;

use anyhow::Context;
use clap::ValueEnum;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// How `status` prints the report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Output {
    #[default]
    Table,
    Json,
}

/// What a status command needs to know of its report.
pub struct Kind<'a, R> {
    /// Its name in messages (`storage`, `compute`).
    pub name: &'a str,
    /// Why there may be no report yet, said when the file is missing.
    pub absent: &'a str,
    /// The table form.
    pub table: fn(&R) -> String,
}

/// The report at `state` in the `output` form.
pub fn render<R: DeserializeOwned + Serialize>(
    state: &Path,
    output: Output,
    kind: &Kind<'_, R>,
) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(state).with_context(|| {
        format!(
            "{}: no {} report ({})",
            state.display(),
            kind.name,
            kind.absent
        )
    })?;
    let report: R = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a {} report", state.display(), kind.name))?;
    Ok(match output {
        Output::Table => (kind.table)(&report),
        Output::Json => serde_json::to_string_pretty(&report)? + "\n",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Serialize)]
    struct Tiny {
        state: String,
    }

    fn kind() -> Kind<'static, Tiny> {
        Kind {
            name: "tiny",
            absent: "the tiny job has not run yet",
            table: |t| format!("STATE\n{}\n", t.state),
        }
    }

    #[test]
    fn a_report_reads_back_as_a_table_or_json_and_a_missing_one_says_why() {
        let dir = std::env::temp_dir().join(format!("plinth-status-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let state = dir.join("tiny.json");
        let missing = render(&state, Output::Table, &kind()).unwrap_err();
        assert!(
            format!("{missing:#}").contains("no tiny report (the tiny job has not run yet)"),
            "{missing:#}"
        );
        std::fs::write(&state, r#"{"state":"prepared"}"#).unwrap();
        assert_eq!(
            render(&state, Output::Table, &kind()).unwrap(),
            "STATE\nprepared\n"
        );
        let json = render(&state, Output::Json, &kind()).unwrap();
        assert!(json.contains(r#""state": "prepared""#), "{json}");
        std::fs::write(&state, "not json").unwrap();
        let bad = render(&state, Output::Json, &kind()).unwrap_err();
        assert!(format!("{bad:#}").contains("not a tiny report"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
