//! Stage 2's main loop on a single-threaded tokio runtime (small and predictable for PID 1).

use std::io;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::args::Args;
use crate::api::controller::Controller;
use crate::boot::sequence::{self, SEQUENCE};
use crate::boot::timeline::Timeline;
use crate::boot::{self, BootContext};
use crate::console;
use crate::pid1::reaper::Reaper;
use crate::pid1::shutdown::PowerAction;
use crate::pid1::{self, Mode};
use crate::services::BuiltinOptions;
use crate::supervisor::cgroup::Cgroups;
use crate::supervisor::logs::RingLimits;
use crate::supervisor::planner::PlanDefaults;
use crate::supervisor::restart::Backoff;
use crate::supervisor::{Settings, Supervisor};

/// The longest PID 1 waits for the services to stop before it kills what is left.
const SHUTDOWN_LIMIT: std::time::Duration = std::time::Duration::from_secs(180);

/// Builds the runtime and runs until a power action is requested.
pub fn with_runtime(args: &Args, mode: Mode) -> io::Result<PowerAction> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(args, mode))
}

async fn run(args: &Args, mode: Mode) -> io::Result<PowerAction> {
    console::say(&format!(
        "plinth-init {} starting (pid {}, {} mode)",
        env!("CARGO_PKG_VERSION"),
        std::process::id(),
        if mode.container {
            "container"
        } else {
            "machine"
        }
    ));
    if mode.owns_machine() {
        for line in pid1::mounts::mount_missing() {
            console::say(&line);
        }
        if let Err(e) = pid1::signals::disable_ctrl_alt_del() {
            console::say(&format!("cannot route ctrl-alt-del to PID 1: {e}"));
        }
    }
    let reaper = Reaper::start()?;
    let (power_tx, mut power_rx) = mpsc::unbounded_channel();
    pid1::signals::spawn(power_tx.clone())?;
    if mode.owns_machine() {
        pid1::power_button::spawn(power_tx.clone());
    }

    let timeline = Timeline::new(sequence::names(SEQUENCE));
    let cgroups = args.cgroup_root().and_then(|root| Cgroups::detect(&root));
    match &cgroups {
        Some(c) => console::say(&format!(
            "services get cgroups under {}",
            c.root().display()
        )),
        None => console::say("no writable cgroup2: services run without cgroups"),
    }
    let settings = Settings {
        backoff: Backoff {
            min: args.backoff_min,
            max: args.backoff_max,
            reset_after: args.backoff_reset,
        },
        ring: RingLimits {
            lines: args.log_ring_lines.max(1),
            ..RingLimits::default()
        },
        log_dir: args.log_dir(),
        log_max_bytes: args.log_max_bytes,
        console_output: !args.quiet_services,
        cgroups,
        metrics_file: args.metrics_file(),
        base_env: pid1::env::base_env(std::env::vars()),
        timeline: timeline.clone(),
    };
    let (supervisor, handle) = Supervisor::new(settings, reaper.clone());
    tokio::spawn(supervisor.run());

    let effective_config = Arc::new(Mutex::new(None));
    let (applier, apply_requests) = boot::apply::channel();
    let controller = Controller {
        applier,
        supervisor: handle.clone(),
        timeline: timeline.clone(),
        config: effective_config.clone(),
        power: power_tx.clone(),
    };
    match crate::api::server::spawn(&args.control_socket, controller) {
        Ok(()) => console::say(&format!("control API on {}", args.control_socket.display())),
        Err(e) => console::say(&format!(
            "control API unavailable: cannot bind {}: {e}",
            args.control_socket.display()
        )),
    }

    let ctx = BootContext {
        mode,
        config_path: args.config.clone(),
        default_config: args.default_config.clone(),
        config: None,
        effective_config,
        supervisor: handle.clone(),
        plan_defaults: PlanDefaults {
            ready_timeout: args.ready_timeout,
        },
        services_loaded: false,
        persisted: args.persisted_config(),
        applied: None,
        boot_seed: None,
        reaper,
        log_dir: args.log_dir(),
        builtins: BuiltinOptions {
            container: mode.container,
            enable_in_container: args.builtins,
        },
    };
    let boot = tokio::spawn(boot::apply::boot_and_apply(
        ctx,
        timeline.clone(),
        apply_requests,
    ));

    let action = power_rx.recv().await.unwrap_or(PowerAction::Poweroff);
    console::say(&format!("{action} requested"));
    boot.abort();
    // Every service gets SIGKILL after its stop timeout; the bound only guards against processes
    // the kernel cannot kill (stuck in uninterruptible sleep).
    match tokio::time::timeout(SHUTDOWN_LIMIT, handle.shutdown()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => console::say(&format!("stopping services: {e}")),
        Err(_) => console::say(&format!(
            "services still running after {SHUTDOWN_LIMIT:?}; going on"
        )),
    }
    console::say("all services stopped");
    Ok(action)
}
