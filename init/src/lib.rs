//! `plinth-init` is Plinth's PID 1: stage 1 in the initramfs and stage 2 (the supervisor) in the real root.
