//! `cargo xtask schema`: print (or write) the JSON Schema of the machine config.

use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::cmd::workspace_root;

/// Flags of `cargo xtask schema`.
#[derive(clap::Args)]
pub struct Args {
    /// Write the schema to configs/plinth.schema.json, and the reference generated from it to
    /// configs/REFERENCE.md, instead of printing the schema.
    #[arg(long)]
    write: bool,
}

pub fn run(args: &Args) -> Result<ExitCode> {
    let text = plinth_config::schema::schema_text();
    if args.write {
        let files = [
            ("configs/plinth.schema.json", text),
            (
                "configs/REFERENCE.md",
                plinth_config::reference::reference_markdown(),
            ),
        ];
        for (file, content) in files {
            let path = workspace_root().join(file);
            std::fs::write(&path, content)
                .with_context(|| format!("writing {}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
    } else {
        print!("{text}");
    }
    Ok(ExitCode::SUCCESS)
}
