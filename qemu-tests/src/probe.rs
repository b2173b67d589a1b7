//! The probe: a oneshot user service, put in a test's seed, that reports on the console what only
//! the guest can see — how `/` is mounted and whether it refuses writes, which program is PID 1
//! and its resident memory, the machine-id and the mounts — as `plinth-probe key=value …` lines (stage 2 mirrors service
//! output to the console as `[probe] …`). It uses the image's busybox, nothing of the harness.
//!
//! [`user_data`] writes the seed's config; [`Report::from_console`] reads the lines back.

use std::collections::BTreeMap;

use crate::console::Line;

/// The shell script the probe runs (busybox sh).
pub const SCRIPT: &str = r#"b=/usr/bin/busybox
root=$($b awk '$2 == "/" { o = $4; t = $3 } END { print o " " t }' /proc/mounts)
echo "plinth-probe root-options=${root% *} root-fstype=${root#* }"
if $b touch /plinth-probe-write 2>/dev/null; then $b rm -f /plinth-probe-write; w=allowed; else w=refused; fi
echo "plinth-probe root-write=$w"
echo "plinth-probe pid1-exe=$($b readlink /proc/1/exe) pid1-comm=$($b cat /proc/1/comm)"
echo "plinth-probe machine-id=$($b cat /etc/machine-id)"
echo "plinth-probe pid1-rss-kib=$($b awk '/^VmRSS:/ { print $2 }' /proc/1/status)"
echo "plinth-probe pid1-rss-anon-kib=$($b awk '/^RssAnon:/ { print $2 }' /proc/1/status) pid1-rss-file-kib=$($b awk '/^RssFile:/ { print $2 }' /proc/1/status)"
echo "plinth-probe mounts=$($b awk '{ printf "%s:%s:%s;", $2, $1, $3 }' /proc/mounts)"
echo "plinth-probe done"
"#;

/// A `#cloud-config` for a test node: DHCP on every ethernet, the node exporter on :9100, and the
/// probe service.
pub fn user_data(hostname: &str) -> String {
    let script: String = SCRIPT.lines().map(|l| format!("          {l}\n")).collect();
    format!(
        r#"#cloud-config
hostname: {hostname}
network:
  version: 2
  ethernets:
    all-wired:
      match:
        name: "e*"
      dhcp4: true
      optional: true
plinth:
  exporters:
    node_exporter:
      enabled: true
      listen: ":9100"
  services:
    - name: probe
      oneshot: true
      restart: never
      exec:
        - /usr/bin/busybox
        - sh
        - -c
        - |
{script}"#
    )
}

/// What the probe reported.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub fields: BTreeMap<String, String>,
    /// The `done` line was seen: the report is complete.
    pub done: bool,
}

impl Report {
    /// The probe's fields from console lines (the last value of a key wins).
    pub fn from_console(lines: &[Line]) -> Self {
        let mut report = Self::default();
        for line in lines {
            let Some(at) = line.text.find("plinth-probe ") else {
                continue;
            };
            let rest = &line.text[at + "plinth-probe ".len()..];
            if rest.trim() == "done" {
                report.done = true;
                continue;
            }
            for pair in rest.split_whitespace() {
                if let Some((k, v)) = pair.split_once('=') {
                    report.fields.insert(k.to_string(), v.to_string());
                }
            }
        }
        report
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(String::as_str)
    }

    /// The `/` mount options include `ro`.
    pub fn root_mounted_read_only(&self) -> bool {
        self.get("root-options")
            .is_some_and(|o| o.split(',').any(|opt| opt == "ro"))
    }

    /// The mounts as (mount point, source, fstype).
    pub fn mounts(&self) -> Vec<(String, String, String)> {
        self.get("mounts")
            .unwrap_or("")
            .split(';')
            .filter_map(|m| {
                let mut parts = m.splitn(3, ':');
                Some((
                    parts.next()?.to_string(),
                    parts.next()?.to_string(),
                    parts.next()?.to_string(),
                ))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn line(index: usize, text: &str) -> Line {
        Line {
            index,
            at: Duration::from_secs(index as u64),
            text: text.to_string(),
        }
    }

    #[test]
    fn the_probe_config_is_a_valid_machine_config() {
        let text = user_data("probe-node");
        let parsed = plinth_config::parse("probe user-data", &text)
            .unwrap_or_else(|d| panic!("{d}\n---\n{text}"));
        let services = &parsed.config.plinth.services;
        assert_eq!(services.len(), 1);
        assert_eq!(services[0].name, "probe");
        assert!(services[0].oneshot);
        assert_eq!(services[0].exec[..3], ["/usr/bin/busybox", "sh", "-c"]);
        assert_eq!(services[0].exec[3].trim_end(), SCRIPT.trim_end());
    }

    #[test]
    fn reports_are_read_from_prefixed_console_lines() {
        let lines = [
            line(0, "plinth: [ 1.0] starting probe"),
            line(
                1,
                "[probe] plinth-probe root-options=ro,relatime root-fstype=squashfs",
            ),
            line(2, "[probe] plinth-probe root-write=refused"),
            line(
                3,
                "[probe] plinth-probe pid1-exe=/usr/bin/plinth-init pid1-comm=init",
            ),
            line(
                4,
                "[probe] plinth-probe machine-id=55f9ed6d5ba9428f818e7b96dfe5ce34",
            ),
            line(
                5,
                "[probe] plinth-probe mounts=/:/dev/vda2:squashfs;/var:overlay:overlay;",
            ),
            line(6, "[probe] plinth-probe done"),
        ];
        let r = Report::from_console(&lines);
        assert!(r.done);
        assert!(r.root_mounted_read_only());
        assert_eq!(r.get("root-fstype"), Some("squashfs"));
        assert_eq!(r.get("root-write"), Some("refused"));
        assert_eq!(r.get("pid1-exe"), Some("/usr/bin/plinth-init"));
        assert_eq!(
            r.get("machine-id"),
            Some("55f9ed6d5ba9428f818e7b96dfe5ce34")
        );
        assert_eq!(
            r.mounts(),
            [
                ("/".into(), "/dev/vda2".into(), "squashfs".into()),
                ("/var".into(), "overlay".into(), "overlay".into())
            ]
        );
    }

    #[test]
    fn a_read_write_root_is_not_read_only() {
        let r = Report::from_console(&[line(0, "plinth-probe root-options=rw,relatime")]);
        assert!(!r.root_mounted_read_only());
        assert!(!r.done);
        let r = Report::from_console(&[line(0, "plinth-probe root-options=rw,errors=remount-ro")]);
        assert!(!r.root_mounted_read_only());
    }
}
