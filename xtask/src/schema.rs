//! `cargo xtask schema`: print (or write) the JSON Schema of the machine config.

use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::cmd::workspace_root;

/// Flags of `cargo xtask schema`.
#[derive(clap::Args)]
pub struct Args {
    /// Write the schema to configs/plinth.schema.json instead of printing it.
    #[arg(long)]
    write: bool,
}

pub fn run(args: &Args) -> Result<ExitCode> {
    let text = plinth_config::schema::schema_text();
    if args.write {
        let path = workspace_root().join("configs/plinth.schema.json");
        std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    } else {
        print!("{text}");
    }
    Ok(ExitCode::SUCCESS)
}
