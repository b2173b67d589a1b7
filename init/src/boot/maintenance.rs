//! Maintenance mode: after a failed phase the node stays up with the console, the control API and
//! network — the built-in services (udev, DHCP on every link unless the config says otherwise, the
//! node exporter, and the root shells of `plinth.autologin`: the built-ins come from the kernel
//! command line and the machine, so the empty fallback config still plans them) are started if the
//! failure came before the service graph was loaded — and the console says what failed, every
//! config error as `SOURCE:LINE:COL: ...`, and how to fix it.

use plinth_config::MachineConfig;

use super::BootContext;
use crate::console;
use crate::services;
use crate::supervisor::planner;

/// Starts the built-ins when no services were loaded.
pub async fn enter(ctx: &mut BootContext) {
    if ctx.services_loaded {
        return;
    }
    let fallback = MachineConfig::default();
    let config = ctx.config.as_ref().map_or(&fallback, |c| &c.config);
    let builtins = services::plan_builtins(config, &ctx.builtins);
    let count = builtins.len();
    match planner::plan(builtins, &[], ctx.plan_defaults) {
        Ok(plan) => match ctx.supervisor.load(plan).await {
            Ok(()) => {
                ctx.services_loaded = true;
                console::say(&format!(
                    "maintenance mode: started {count} built-in services"
                ));
            }
            Err(e) => console::say(&format!("maintenance mode: cannot start services: {e}")),
        },
        Err(e) => console::say(&format!("maintenance mode: cannot plan the built-ins: {e}")),
    }
}

/// The console lines explaining maintenance mode after phase `phase` failed with `why`.
pub fn explain(phase: &str, why: &str) -> Vec<String> {
    let mut lines = vec![format!("MAINTENANCE MODE: phase `{phase}` failed:")];
    lines.extend(
        why.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| format!("  {}", l.trim_end())),
    );
    lines.push("to fix it, either:".into());
    if phase == "config" {
        lines.push(
            "  - correct the config source and reboot: a new NoCloud seed (label cidata), config drive (config-2) or plinth.config=URL, then `plinthctl reboot`".into(),
        );
    } else {
        lines.push("  - correct the config (or the machine) and `plinthctl reboot`".into());
    }
    lines.push(
        "  - or, on the node, `plinthctl config apply FILE`: it validates FILE, keeps it and re-runs the boot from phase `config`, no reboot needed".into(),
    );
    lines.push(
        "    (a shell on the node: a user's SSH key, or, in a lab, boot with plinth.autologin=ttyS0 for a root shell on that console)".into(),
    );
    lines.push("the control API (plinthctl) and the console keep working meanwhile".into());
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_line_and_the_ways_out_are_said() {
        let why = "invalid machine config:\n/seed/user-data:3:13: error: expected a list (at plinth.services)\n/seed/user-data:5:1: error: unknown key `hostnme`";
        let lines = explain("config", why);
        assert_eq!(lines[0], "MAINTENANCE MODE: phase `config` failed:");
        assert!(lines.contains(
            &"  /seed/user-data:3:13: error: expected a list (at plinth.services)".to_string()
        ));
        assert!(lines.contains(&"  /seed/user-data:5:1: error: unknown key `hostnme`".to_string()));
        let text = lines.join("\n");
        assert!(text.contains("plinthctl config apply FILE"), "{text}");
        assert!(text.contains("plinth.autologin=ttyS0"), "{text}");
        assert!(
            text.contains("cidata") && text.contains("plinthctl reboot"),
            "{text}"
        );
        assert!(!explain("time", "no sync").join("\n").contains("cidata"));
    }
}
