//! The config corpus under `tests/corpus/`: every `bad/` file must fail with exactly the diagnostics its
//! `# expect:` lines announce (position, severity and message fragment); every `good/` file must parse,
//! with exactly the warnings its `# expect:` lines announce.
//!
//! An expectation reads `# expect: LINE:COL: SEVERITY: FRAGMENT`; the test looks for a rendered
//! diagnostic `SOURCE:LINE:COL: SEVERITY: ...FRAGMENT...`.

use std::path::{Path, PathBuf};

fn corpus(kind: &str) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

struct Expect {
    prefix: String,
    fragment: String,
}

fn expectations(path: &Path, text: &str) -> Vec<Expect> {
    let source = path.display().to_string();
    text.lines()
        .filter_map(|l| l.strip_prefix("# expect: "))
        .map(|e| {
            // LINE:COL: SEVERITY: FRAGMENT
            let mut parts = e.splitn(4, ':');
            let (line, col, sev, frag) = (
                parts.next().unwrap(),
                parts.next().unwrap(),
                parts.next().unwrap(),
                parts.next().unwrap(),
            );
            Expect {
                prefix: format!("{source}:{line}:{col}:{sev}:"),
                fragment: frag.trim().to_owned(),
            }
        })
        .collect()
}

fn check(rendered: &[String], expects: &[Expect], path: &Path) {
    for e in expects {
        assert!(
            rendered
                .iter()
                .any(|d| d.starts_with(&e.prefix) && d.contains(&e.fragment)),
            "{}: expected a diagnostic `{} ...{}...`, got:\n{}",
            path.display(),
            e.prefix,
            e.fragment,
            rendered.join("\n")
        );
    }
    assert_eq!(
        rendered.len(),
        expects.len(),
        "{}: diagnostics and expectations differ:\n{}",
        path.display(),
        rendered.join("\n")
    );
}

#[test]
fn bad_configs_fail_with_positions() {
    let files = corpus("bad");
    assert!(files.len() >= 10);
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let expects = expectations(&path, &text);
        assert!(
            !expects.is_empty(),
            "{} has no `# expect:` line",
            path.display()
        );
        let diags = plinth_config::load_path(&path).expect_err(&path.display().to_string());
        assert!(diags.has_errors());
        let rendered: Vec<String> = diags.0.iter().map(ToString::to_string).collect();
        check(&rendered, &expects, &path);
    }
}

#[test]
fn good_configs_parse() {
    let files = corpus("good");
    assert!(!files.is_empty());
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let expects = expectations(&path, &text);
        let parsed =
            plinth_config::load_path(&path).unwrap_or_else(|e| panic!("{}:\n{e}", path.display()));
        let rendered: Vec<String> = parsed.warnings.iter().map(ToString::to_string).collect();
        check(&rendered, &expects, &path);
    }
}
