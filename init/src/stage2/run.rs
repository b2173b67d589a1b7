//! Stage 2's main loop on a single-threaded tokio runtime (small and predictable for PID 1).

use std::io;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, watch};
use tokio::task::{JoinError, JoinHandle};

use super::args::Args;
use super::task_end::{self, Reaction, Task};
use crate::api::controller::Controller;
use crate::boot::apply::Start;
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
    let mut supervisor_task = Some(tokio::spawn(supervisor.run()));

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

    let (reboot_bound, reboot_after) =
        watch::channel(plinth_config::plinth::Supervisor::DEFAULT_FAILURE_REBOOT_AFTER);
    let new_context = |services_loaded: bool| BootContext {
        mode,
        config_path: args.config.clone(),
        default_config: args.default_config.clone(),
        config: None,
        effective_config: effective_config.clone(),
        supervisor: handle.clone(),
        plan_defaults: PlanDefaults {
            ready_timeout: args.ready_timeout,
        },
        settle_limit: args.settle_timeout,
        services_loaded,
        persisted: args.persisted_config(),
        applied: None,
        boot_seed: None,
        reaper: reaper.clone(),
        log_dir: args.log_dir(),
        builtins: BuiltinOptions {
            container: mode.container,
            enable_in_container: args.builtins,
        },
        failure_reboot_after: reboot_bound.clone(),
    };
    let mut boot_task = Some(tokio::spawn(boot::apply::boot_and_apply(
        new_context(false),
        timeline.clone(),
        apply_requests.clone(),
        Start::Boot,
    )));

    // Every task's end is an event here (`task_end`): none of them may vanish unnoticed.
    let mut boot_restarts = 0;
    let action = loop {
        tokio::select! {
            action = power_rx.recv() => break action.unwrap_or(PowerAction::Poweroff),
            Some(ended) = until_end(&mut boot_task) => {
                let how = task_end::how(ended);
                let why = match task_end::react(Task::Boot, &how, boot_restarts, *reboot_after.borrow()) {
                    Reaction::Maintenance { why } => why,
                    Reaction::GiveUp { why } | Reaction::Reboot { why, .. } => {
                        console::say(&why);
                        continue;
                    }
                };
                boot_restarts = boot_restarts.saturating_add(1);
                console::say(&format!("{why}; starting it again in maintenance mode"));
                // Whatever the dead task loaded stays loaded; a config apply replaces it.
                let loaded = handle.list().await.is_ok_and(|l| !l.is_empty());
                boot_task = Some(tokio::spawn(boot::apply::boot_and_apply(
                    new_context(loaded),
                    timeline.clone(),
                    apply_requests.clone(),
                    Start::Recovered(why),
                )));
            }
            Some(ended) = until_end(&mut supervisor_task) => {
                let how = task_end::how(ended);
                if let Reaction::Reboot { after, why } =
                    task_end::react(Task::Supervisor, &how, 0, *reboot_after.borrow())
                {
                    console::say(&format!(
                        "{why}; its services cannot be adopted by a new one: rebooting in {after:?} (plinth.supervisor.failure_reboot_after)"
                    ));
                    let power = power_tx.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(after).await;
                        let _ = power.send(PowerAction::Reboot);
                    });
                }
            }
        }
    };
    console::say(&format!("{action} requested"));
    if let Some(boot) = &boot_task {
        boot.abort();
    }
    if supervisor_task.is_none() {
        console::say("no supervisor: the services are killed with everything else");
        return Ok(action);
    }
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

/// The end of the task in `slot`, once; pending forever once it has ended (the slot is emptied).
async fn until_end<T>(slot: &mut Option<JoinHandle<T>>) -> Option<Result<T, JoinError>> {
    let ended = match slot.as_mut() {
        Some(task) => task.await,
        None => std::future::pending().await,
    };
    *slot = None;
    Some(ended)
}
