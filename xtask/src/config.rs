//! `cargo xtask config …`: validate machine configs (files or NoCloud seed directories).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

/// Config subcommands.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Parse and validate configs; print warnings and errors; exit 1 if any has an error.
    Validate {
        /// `#cloud-config` files or NoCloud seed directories (user-data, meta-data, network-config).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
}

pub fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Validate { paths } => Ok(validate(&paths)),
    }
}

fn validate(paths: &[PathBuf]) -> ExitCode {
    let mut failed = 0;
    for path in paths {
        match plinth_config::load_path(path) {
            Ok(parsed) => {
                for warning in &parsed.warnings {
                    eprintln!("{warning}");
                }
                println!("{}: ok", path.display());
            }
            Err(diagnostics) => {
                eprintln!("{diagnostics}");
                let errors = diagnostics.errors().count();
                println!(
                    "{}: {errors} error{}",
                    path.display(),
                    if errors == 1 { "" } else { "s" }
                );
                failed += 1;
            }
        }
    }
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
