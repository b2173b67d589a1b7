//! How plinthctl prints what PID 1 answers: tables for people and JSON for scripts (`pid` and
//! missing times as `null`). Pure functions from the API types to text.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::api::types::{LogEntry, PhaseInfo, ServiceInfo, TimelineInfo};

fn optional_str(s: &str) -> Value {
    if s.is_empty() {
        Value::Null
    } else {
        Value::String(s.to_string())
    }
}

fn optional_ms(ms: i64) -> Value {
    if ms < 0 { Value::Null } else { json!(ms) }
}

/// One service as a JSON object.
pub fn service_value(s: &ServiceInfo) -> Value {
    json!({
        "name": s.name,
        "state": s.state,
        "pid": if s.pid == 0 { Value::Null } else { json!(s.pid) },
        "restarts": s.restarts,
        "since_ms": s.since_ms,
        "last_exit": optional_str(&s.last_exit),
        "after": s.after,
        "ready": s.probe,
        "restart": s.restart,
        "origin": s.origin,
    })
}

/// Every service as a JSON array.
pub fn services_json(services: &[ServiceInfo]) -> String {
    Value::Array(services.iter().map(service_value).collect()).to_string()
}

/// One service as JSON.
pub fn service_json(s: &ServiceInfo) -> String {
    service_value(s).to_string()
}

fn pid_text(pid: u32) -> String {
    if pid == 0 {
        "-".into()
    } else {
        pid.to_string()
    }
}

fn duration_text(ms: u64) -> String {
    match ms {
        0..1_000 => format!("{ms}ms"),
        1_000..60_000 => format!("{:.1}s", ms as f64 / 1000.0),
        60_000..3_600_000 => format!("{}m{}s", ms / 60_000, ms % 60_000 / 1000),
        _ => format!("{}h{}m", ms / 3_600_000, ms % 3_600_000 / 60_000),
    }
}

/// Every service as a table.
pub fn services_table(services: &[ServiceInfo]) -> String {
    let width = services
        .iter()
        .map(|s| s.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut out = format!(
        "{:<width$}  {:<9} {:>7} {:>8}  {:>8}  LAST EXIT\n",
        "NAME", "STATE", "PID", "RESTARTS", "SINCE"
    );
    for s in services {
        let _ = writeln!(
            out,
            "{:<width$}  {:<9} {:>7} {:>8}  {:>8}  {}",
            s.name,
            s.state,
            pid_text(s.pid),
            s.restarts,
            duration_text(s.since_ms),
            if s.last_exit.is_empty() {
                "-"
            } else {
                &s.last_exit
            }
        );
    }
    out
}

/// One service as `key: value` lines.
pub fn service_text(s: &ServiceInfo) -> String {
    let after = if s.after.is_empty() {
        "-".to_string()
    } else {
        s.after.join(", ")
    };
    format!(
        "name:      {}\nstate:     {} (for {})\npid:       {}\nrestarts:  {}\nlast exit: {}\nafter:     {after}\nready:     {}\nrestart:   {}\norigin:    {}\n",
        s.name,
        s.state,
        duration_text(s.since_ms),
        pid_text(s.pid),
        s.restarts,
        if s.last_exit.is_empty() {
            "-"
        } else {
            &s.last_exit
        },
        s.probe,
        s.restart,
        s.origin
    )
}

/// One log line: time since boot, stream marker for stderr, text.
pub fn log_line(l: &LogEntry) -> String {
    let marker = if l.stream == "stderr" { " !" } else { "" };
    format!("[{:>8.3}]{marker} {}", l.at_ms as f64 / 1000.0, l.text)
}

fn phase_value(p: &PhaseInfo) -> Value {
    json!({
        "name": p.name,
        "start_ms": optional_ms(p.start_ms),
        "duration_ms": optional_ms(p.duration_ms),
        "status": p.status,
        "message": p.message,
    })
}

/// The timeline as JSON: `{"phases": [...], "ready_ms": n | null}`.
pub fn timeline_json(t: &TimelineInfo) -> String {
    json!({
        "phases": t.phases.iter().map(phase_value).collect::<Vec<_>>(),
        "ready_ms": optional_ms(t.ready_ms),
    })
    .to_string()
}

/// The timeline as a table.
pub fn timeline_table(t: &TimelineInfo) -> String {
    let secs = |ms: i64| {
        if ms < 0 {
            "-".to_string()
        } else {
            format!("{:.3}s", ms as f64 / 1000.0)
        }
    };
    let mut out = format!(
        "{:<9} {:>9} {:>9}  {:<8} MESSAGE\n",
        "PHASE", "START", "TOOK", "STATUS"
    );
    for p in &t.phases {
        let _ = writeln!(
            out,
            "{:<9} {:>9} {:>9}  {:<8} {}",
            p.name,
            secs(p.start_ms),
            secs(p.duration_ms),
            p.status,
            p.message
        );
    }
    let _ = writeln!(
        out,
        "ready: {}",
        if t.ready_ms < 0 {
            "not yet".to_string()
        } else {
            format!("at {}", secs(t.ready_ms))
        }
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(pid: u32) -> ServiceInfo {
        ServiceInfo {
            name: "web".into(),
            state: "ready".into(),
            pid,
            restarts: 2,
            since_ms: 1500,
            last_exit: String::new(),
            after: vec!["db".into()],
            probe: "tcp :80".into(),
            restart: "always".into(),
            origin: "user".into(),
        }
    }

    #[test]
    fn json_has_null_pid_when_none() {
        let v: Value = serde_json::from_str(&services_json(&[service(0), service(42)])).unwrap();
        assert_eq!(v[0]["pid"], Value::Null);
        assert_eq!(v[1]["pid"], 42);
        assert_eq!(v[0]["name"], "web");
        assert_eq!(v[0]["state"], "ready");
        assert_eq!(v[0]["restarts"], 2);
        assert_eq!(v[0]["last_exit"], Value::Null);
    }

    #[test]
    fn tables_are_aligned_and_readable() {
        let table = services_table(&[service(42)]);
        assert!(table.starts_with("NAME"));
        assert!(table.contains("web   ready"));
        assert!(table.contains("1.5s"));
        assert!(service_text(&service(0)).contains("pid:       -"));
        assert_eq!(duration_text(3_723_000), "1h2m");
    }

    #[test]
    fn timeline_json_uses_null_for_missing_times() {
        let t = TimelineInfo {
            phases: vec![PhaseInfo {
                name: "early".into(),
                start_ms: 3,
                duration_ms: -1,
                status: "running".into(),
                message: String::new(),
            }],
            ready_ms: -1,
        };
        let v: Value = serde_json::from_str(&timeline_json(&t)).unwrap();
        assert_eq!(v["phases"][0]["start_ms"], 3);
        assert_eq!(v["phases"][0]["duration_ms"], Value::Null);
        assert_eq!(v["ready_ms"], Value::Null);
        assert!(timeline_table(&t).contains("not yet"));
    }
}
