//! `plinth-init`: Plinth's PID 1. In the initramfs it runs stage 1 (find and mount the root, then
//! exec stage 2); in the real root it runs stage 2, the supervisor.

fn main() -> std::process::ExitCode {
    if plinth_init::stage1::is_stage1() {
        // Stage 1 ends by exec'ing stage 2 (or halting with a message, or rebooting after a
        // panic); it never returns.
        plinth_init::stage1::run_guarded();
    }
    plinth_init::stage2::main()
}
