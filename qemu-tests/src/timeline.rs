//! Boot timing read from a captured console: when the kernel started (host clock, since QEMU
//! started, so it includes the firmware), when stage 1 started (the kernel's own clock, from
//! stage 1's `[ uptime] plinth stage 1: starting` line) and when stage 2 said `plinth: ready`
//! (host clock). Pure: the console lines in, the durations out.

use std::time::Duration;

use regex::Regex;

use crate::console::Line;

/// One boot's phases.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BootTimes {
    /// QEMU start to the kernel's first line: firmware and boot loader.
    pub firmware: Duration,
    /// Kernel start to PID 1 (stage 1) starting, by the kernel's clock.
    pub kernel_to_pid1: Duration,
    /// PID 1 starting to the ready line.
    pub pid1_to_ready: Duration,
    /// Kernel start to the ready line.
    pub kernel_to_ready: Duration,
}

/// Why a console does not give a timeline.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TimelineError {
    #[error("the console has no line matching {0}")]
    Missing(&'static str),
}

const KERNEL_BANNER: &str = r"Linux version \d";

/// The console lines that mark PID 1's start (with the kernel's uptime as capture 1) and ready.
#[derive(Clone, Copy, Debug)]
pub struct Markers {
    pub pid1_start: &'static str,
    pub ready: &'static str,
}

/// Plinth's: stage 1's first line (whatever it says) and stage 2's ready line.
pub const PLINTH: Markers = Markers {
    pid1_start: r"\[\s*(\d+\.\d+)\] plinth stage 1: ",
    ready: r"plinth: ready in \d",
};

/// The timeline of the first Plinth boot in `lines`.
pub fn boot_times(lines: &[Line]) -> Result<BootTimes, TimelineError> {
    boot_times_with(lines, PLINTH)
}

/// The timeline of the first boot in `lines`, by `markers`.
pub fn boot_times_with(lines: &[Line], markers: Markers) -> Result<BootTimes, TimelineError> {
    const STAGE1_START: &str = "the PID 1 start marker";
    const READY: &str = "the ready marker";
    let find = |pattern: &'static str| -> Result<&Line, TimelineError> {
        let re = Regex::new(pattern).expect("valid pattern");
        lines
            .iter()
            .find(|l| re.is_match(&l.text))
            .ok_or(TimelineError::Missing(pattern))
    };
    let banner = find(KERNEL_BANNER)?;
    let stage1 = find(markers.pid1_start).map_err(|_| TimelineError::Missing(STAGE1_START))?;
    let ready = find(markers.ready).map_err(|_| TimelineError::Missing(READY))?;
    let stage1_uptime: f64 = Regex::new(markers.pid1_start)
        .expect("valid pattern")
        .captures(&stage1.text)
        .and_then(|c| c[1].parse().ok())
        .ok_or(TimelineError::Missing(STAGE1_START))?;
    let kernel_to_ready = ready.at.saturating_sub(banner.at);
    let kernel_to_pid1 = Duration::from_secs_f64(stage1_uptime);
    Ok(BootTimes {
        firmware: banner.at,
        kernel_to_pid1,
        pid1_to_ready: kernel_to_ready.saturating_sub(kernel_to_pid1),
        kernel_to_ready,
    })
}

/// The median of `values` (the mean of the middle two for an even count); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(index: usize, at_ms: u64, text: &str) -> Line {
        Line {
            index,
            at: Duration::from_millis(at_ms),
            text: text.to_string(),
        }
    }

    /// Lines as a real UEFI boot printed them (abridged).
    fn uefi_boot() -> Vec<Line> {
        vec![
            line(
                0,
                1200,
                "BdsDxe: loading Boot0001 \"UEFI Misc Device\" from PciRoot(0x0)/Pci(0x1,0x0)",
            ),
            line(
                1,
                4400,
                "[    0.000000] Linux version 6.12.118+deb13-amd64 (debian-kernel@lists.debian.org)",
            ),
            line(
                2,
                6867,
                "[   2.450] plinth stage 1: plinth-init 0.1.0 starting",
            ),
            line(
                3,
                6900,
                "[   2.476] plinth stage 1: mounted /proc /sys /dev; slot A",
            ),
            line(
                3,
                10105,
                "[   5.701] plinth stage 1: exec /sbin/init (stage 2) after 5.700s in stage 1",
            ),
            line(
                4,
                10300,
                "plinth: [   0.059] plinth-init 0.1.0 starting (pid 1, machine mode)",
            ),
            line(5, 10700, "plinth: ready in 0.40s"),
        ]
    }

    #[test]
    fn phases_come_from_host_and_kernel_clocks() {
        let t = boot_times(&uefi_boot()).unwrap();
        assert_eq!(t.firmware, Duration::from_millis(4400));
        assert_eq!(t.kernel_to_pid1, Duration::from_millis(2450));
        assert_eq!(t.kernel_to_ready, Duration::from_millis(6300));
        assert_eq!(t.pid1_to_ready, Duration::from_millis(3850));
    }

    #[test]
    fn a_boot_that_never_got_ready_has_no_timeline() {
        let mut lines = uefi_boot();
        lines.pop();
        assert_eq!(
            boot_times(&lines),
            Err(TimelineError::Missing("the ready marker"))
        );
    }

    #[test]
    fn other_markers_read_other_inits() {
        let floor = Markers {
            pid1_start: r"\[(\d+\.\d+)\] floor: init starting",
            ready: r"floor: ready",
        };
        let lines = vec![
            line(0, 1000, "[    0.000000] Linux version 6.12.118"),
            line(1, 3000, "[1.75] floor: init starting"),
            line(2, 6000, "[4.80] floor: ready"),
        ];
        let t = boot_times_with(&lines, floor).unwrap();
        assert_eq!(t.kernel_to_pid1, Duration::from_millis(1750));
        assert_eq!(t.kernel_to_ready, Duration::from_millis(5000));
        assert!(boot_times(&lines).is_err());
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[f64::NAN]), None);
        assert_eq!(median(&[]), None);
    }
}
