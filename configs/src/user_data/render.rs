//! The config back as user-data: its `#cloud-config` YAML alone, or, when it has scripts, a MIME
//! multipart as `cloud-init devel make-mime` lays it out (a `text/cloud-config` part, then each
//! script and boothook), so a persisted config keeps its scripts and reads back equal.

use crate::cloud_init::{Frequency, Script, UserScripts};

/// `cloud_config` with `scripts` as parts, or `cloud_config` alone when there are none.
pub fn render(cloud_config: &str, scripts: &UserScripts) -> String {
    if scripts.is_empty() {
        return cloud_config.to_owned();
    }
    let mut parts: Vec<(&str, &str, &str)> =
        vec![("text/cloud-config", "cloud-config", cloud_config)];
    let typed = |s: &Script| match s.frequency {
        Frequency::Instance => "text/x-shellscript",
        Frequency::Boot => "text/x-shellscript-per-boot",
    };
    for s in &scripts.boothooks {
        parts.push(("text/cloud-boothook", &s.name, &s.body));
    }
    for s in &scripts.scripts {
        parts.push((typed(s), &s.name, &s.body));
    }
    let mut boundary = "==PLINTH-USER-DATA==".to_owned();
    while parts.iter().any(|(_, _, body)| body.contains(&boundary)) {
        boundary.push('=');
    }
    let mut out =
        format!("Content-Type: multipart/mixed; boundary=\"{boundary}\"\nMIME-Version: 1.0\n\n");
    for (content_type, name, body) in parts {
        let body = match content_type {
            // The handler strips this line again.
            "text/cloud-boothook" => format!("#cloud-boothook\n{body}"),
            _ => body.to_owned(),
        };
        out.push_str(&format!(
            "--{boundary}\nContent-Type: {content_type}; charset=\"utf-8\"\nMIME-Version: 1.0\nContent-Transfer-Encoding: 8bit\nContent-Disposition: attachment; filename=\"{}\"\n\n{body}\n",
            name.replace(['"', '\n', '\r'], "_")
        ));
    }
    out.push_str(&format!("--{boundary}--\n"));
    out
}
