//! `plinth-init`: Plinth's PID 1. In the initramfs it runs stage 1 (find and mount the root, then
//! exec stage 2); in the real root it runs stage 2, the supervisor.

fn main() -> std::process::ExitCode {
    plinth_init::stage2::main()
}
