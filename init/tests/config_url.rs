//! The URL config sources against a tiny HTTP server on 127.0.0.1 in the test process: a config with
//! the right and the wrong SHA-256, a chunked answer, a server that fails before it answers, a port
//! nobody listens on, and a NoCloud seed under a URL prefix.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use plinth_init::boot::url::checksum::sha256_hex;
use plinth_init::boot::url::source::{self, Outcome, SourceError};

const CONFIG: &str = "#cloud-config\nhostname: from-url\nplinth:\n  services:\n    - name: web\n      exec: [/bin/true]\n";

/// Serves `routes` (path → body) on an ephemeral port; `/chunked/...` answers chunked, `/flaky`
/// answers 503 twice then the config, anything else 404. Returns the base URL.
fn serve(routes: BTreeMap<&'static str, String>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut flaky_hits = 0;
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = Vec::new();
            let mut byte = [0u8; 1];
            while !buf.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                buf.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&buf).to_string();
            let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
            let flaky = path == "/flaky" && {
                flaky_hits += 1;
                flaky_hits <= 2
            };
            let answer = if flaky {
                "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n".to_string()
            } else if let Some(body) = routes.get(path.trim_start_matches("/chunked")) {
                if path.starts_with("/chunked") {
                    let (a, b) = body.split_at(body.len() / 2);
                    format!(
                        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
                        a.len(),
                        b.len()
                    )
                } else {
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    )
                }
            } else {
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_string()
            };
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    base
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn a_config_url_with_the_right_checksum_is_read() {
    let base = serve(BTreeMap::from([
        ("/cfg", CONFIG.to_string()),
        ("/flaky", CONFIG.to_string()),
    ]));
    let sum = sha256_hex(CONFIG.as_bytes());
    let rt = runtime();
    for path in ["/cfg", "/chunked/cfg"] {
        let url = format!("{base}{path}");
        let outcome = rt
            .block_on(source::config_url(
                &url,
                Some(&sum),
                Duration::from_secs(10),
            ))
            .unwrap();
        let Outcome::Parsed { label, parsed, .. } = outcome else {
            panic!("{path}: not fetched")
        };
        assert_eq!(label, format!("plinth.config={url}"));
        assert_eq!(parsed.config.hostname.as_deref(), Some("from-url"));
    }
    let started = Instant::now();
    let outcome = rt
        .block_on(source::config_url(
            &format!("{base}/flaky"),
            Some(&sum),
            Duration::from_secs(20),
        ))
        .unwrap();
    assert!(
        matches!(outcome, Outcome::Parsed { .. }),
        "503 twice, then the config"
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_secs(15),
        "two retries wait 1 s then 2 s: {took:?}"
    );
}

#[test]
fn a_wrong_checksum_names_both_sums() {
    let base = serve(BTreeMap::from([("/cfg", CONFIG.to_string())]));
    let wrong = "0".repeat(64);
    let err = runtime()
        .block_on(source::config_url(
            &format!("{base}/cfg"),
            Some(&wrong),
            Duration::from_secs(5),
        ))
        .unwrap_err();
    let SourceError::Mismatch(mismatch) = &err else {
        panic!("{err}")
    };
    assert_eq!(mismatch.expected, wrong);
    assert_eq!(mismatch.got, sha256_hex(CONFIG.as_bytes()));
    let text = err.to_string();
    assert!(
        text.contains(&format!(
            "expected {wrong}, got {}",
            sha256_hex(CONFIG.as_bytes())
        )),
        "{text}"
    );
}

#[test]
fn an_invalid_fetched_config_reports_line_and_column() {
    let base = serve(BTreeMap::from([(
        "/bad",
        "#cloud-config\nplinth:\n  services: 7\n".to_string(),
    )]));
    let url = format!("{base}/bad");
    let err = runtime()
        .block_on(source::config_url(&url, None, Duration::from_secs(5)))
        .unwrap_err();
    assert!(matches!(err, SourceError::Invalid(_)), "{err}");
    assert!(err.to_string().contains(&format!("{url}:3:")), "{err}");
}

#[test]
fn an_unreachable_url_gives_way_within_its_budget() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    let outcome = runtime()
        .block_on(source::config_url(
            &format!("http://127.0.0.1:{port}/cfg"),
            None,
            Duration::from_secs(4),
        ))
        .unwrap();
    assert!(matches!(outcome, Outcome::Unreachable));
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    let https = runtime()
        .block_on(source::config_url(
            "https://127.0.0.1/cfg",
            None,
            Duration::from_secs(4),
        ))
        .unwrap_err();
    assert!(
        https.to_string().contains("https is not supported"),
        "{https}"
    );
}

#[test]
fn a_nocloud_seed_under_a_url_prefix() {
    let base = serve(BTreeMap::from([
        (
            "/seed/user-data",
            "#cloud-config\nplinth:\n  services:\n    - name: web\n      exec: [/bin/true]\n"
                .to_string(),
        ),
        (
            "/seed/meta-data",
            "instance-id: iid-url-1\nlocal-hostname: seeded\n".to_string(),
        ),
    ]));
    let seed = format!("{base}/seed/");
    let outcome = runtime()
        .block_on(source::nocloud_url(
            &seed,
            Some("from-h"),
            Duration::from_secs(5),
        ))
        .unwrap();
    let Outcome::Parsed {
        parsed,
        instance_id,
        label,
    } = outcome
    else {
        panic!("not fetched")
    };
    assert_eq!(instance_id.as_deref(), Some("iid-url-1"));
    assert_eq!(parsed.config.hostname.as_deref(), Some("seeded"));
    assert_eq!(label, format!("NoCloud seed {seed}"));

    // No local-hostname in meta-data: the command line's `h=` names the node.
    let base = serve(BTreeMap::from([
        ("/s2/user-data", "#cloud-config\n".to_string()),
        ("/s2/meta-data", "instance-id: iid-2\n".to_string()),
    ]));
    let outcome = runtime()
        .block_on(source::nocloud_url(
            &format!("{base}/s2/"),
            Some("from-h"),
            Duration::from_secs(5),
        ))
        .unwrap();
    let Outcome::Parsed { parsed, .. } = outcome else {
        panic!("not fetched")
    };
    assert_eq!(parsed.config.hostname.as_deref(), Some("from-h"));
    let err = runtime()
        .block_on(source::nocloud_url(
            &format!("{base}/s2/"),
            Some("bad_name!"),
            Duration::from_secs(5),
        ))
        .unwrap_err();
    assert!(matches!(err, SourceError::Invalid(_)), "{err}");
    // A seed without meta-data is not a seed: it gives way after the budget.
    let outcome = runtime()
        .block_on(source::nocloud_url(
            &format!("{base}/none/"),
            None,
            Duration::from_secs(2),
        ))
        .unwrap();
    assert!(matches!(outcome, Outcome::Unreachable));
}
