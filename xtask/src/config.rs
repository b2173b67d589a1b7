//! `cargo xtask config …`: validate machine configs (files or NoCloud seed directories).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use plinth_config::user_data::include::{Included, Unfetched};

/// Config subcommands.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Parse and validate configs; print warnings and errors; exit 1 if any has an error.
    Validate {
        /// User-data files (`#cloud-config`, MIME multipart, archives, scripts) or NoCloud seed /
        /// config drive directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Print the boot loader file that boots a node with its config's kernel arguments
    /// (`plinth.kernel.cmdline`, `hugepages`) after the image's own line: the iPXE script of a PXE
    /// boot, or the syslinux.cfg of a BIOS boot (`mcopy` it to `::/syslinux/syslinux.cfg` on the
    /// node's ESP). A UEFI boot runs the UKI, whose line is fixed at image build: no per-node line.
    Boot {
        /// The node's machine config.
        config: PathBuf,
        /// The boot loader.
        #[arg(long, value_enum, default_value = "ipxe")]
        loader: crate::image::node_boot::Loader,
    },
}

pub fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Validate { paths } => Ok(if validate(&paths) == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }),
        Command::Boot { config, loader } => {
            let parsed = plinth_config::load_path_with(
                &config,
                &Included::new(Unfetched::Warn(String::new())),
            )
            .map_err(|d| anyhow::anyhow!("{}:\n{d}", config.display()))?;
            let image_cmdline =
                std::fs::read_to_string(crate::cmd::workspace_root().join("image/cmdline"))?;
            print!(
                "{}",
                crate::image::node_boot::loader_file(
                    loader,
                    &image_cmdline,
                    &parsed.config.plinth.kernel
                )
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Validates each path, printing its diagnostics; returns how many had errors.
fn validate(paths: &[PathBuf]) -> usize {
    let mut failed = 0;
    for path in paths {
        // A validator fetches nothing: an `#include` is a warning, and the booting node fetches it.
        let included = Included::new(Unfetched::Warn(
            "`cargo xtask config validate` fetches nothing; a booting node fetches it, and its contents are checked then".to_owned(),
        ));
        match plinth_config::load_path_with(path, &included) {
            Ok(parsed) => {
                for warning in &parsed.warnings {
                    eprintln!("{warning}");
                }
                let scripts = &parsed.config.user_scripts;
                if scripts.is_empty() {
                    println!("{}: ok", path.display());
                } else {
                    println!(
                        "{}: ok, with {} script(s) and {} boothook(s)",
                        path.display(),
                        scripts.scripts.len(),
                        scripts.boothooks.len()
                    );
                }
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
    failed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::workspace_root;

    fn files(dir: &str) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = std::fs::read_dir(workspace_root().join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        out.sort();
        out
    }

    #[test]
    fn examples_pass_and_bad_configs_fail() {
        let yaml = files("configs/examples")
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"));
        let lab = files("configs/examples/lab")
            .into_iter()
            .filter(|p| p.is_dir());
        let good: Vec<PathBuf> = yaml.chain(lab).collect();
        assert!(good.len() >= 9, "six examples and three lab seeds");
        assert_eq!(validate(&good), 0);
        let bad = files("configs/tests/corpus/bad");
        assert_eq!(validate(&bad), bad.len(), "every bad config must fail");
    }
}
