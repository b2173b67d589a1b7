//! `plinthctl`: the command-line client of plinth-init's control API (see `plinth_init::ctl`).

fn main() -> std::process::ExitCode {
    plinth_init::ctl::main()
}
