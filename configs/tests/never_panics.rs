//! Property tests: the parser never panics, on any input — random bytes, YAML-ish noise, and mutations
//! of real configs — and always answers with a config or with diagnostics that have positions.

use proptest::prelude::*;

const SEED: &str = include_str!("../examples/hyperconverged.yaml");

fn check(text: &str) {
    match plinth_config::parse("fuzz", text) {
        Ok(parsed) => {
            let _ = parsed.config.redacted();
        }
        Err(diags) => {
            assert!(diags.has_errors());
            for d in &diags.0 {
                assert!(d.to_string().starts_with("fuzz:"));
            }
        }
    }
    let _ = plinth_config::parse_network("fuzz", text);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings(text in "\\PC{0,400}") {
        check(&text);
    }

    #[test]
    fn yaml_like_noise(text in "([a-z_:\\- \\[\\]{},&*!|>'\"#0-9.\n]|plinth|network|ethernets|services){0,200}") {
        check(&text);
    }

    #[test]
    fn mutated_real_config(cut in 0usize..4000, insert in "[\\PC\n]{0,12}", delete in 0usize..16) {
        let mut text = SEED.to_owned();
        let at = cut.min(text.len());
        let at = (0..=at).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
        let end = (at + delete).min(text.len());
        let end = (end..=text.len()).find(|i| text.is_char_boundary(*i)).unwrap_or(text.len());
        text.replace_range(at..end, &insert);
        check(&text);
    }
}

#[test]
fn deep_nesting_is_refused_not_a_stack_overflow() {
    let deep = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
    assert!(plinth_config::parse("deep", &deep).is_err());
    let mut block = String::from("#cloud-config\n");
    for i in 0..500 {
        block.push_str(&" ".repeat(i));
        block.push_str("a:\n");
    }
    assert!(plinth_config::parse("deep", &block).is_err());
}

#[test]
fn huge_documents_are_refused() {
    let huge = format!(
        "#cloud-config\nruncmd:\n{}",
        "  - echo aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n".repeat(120_000)
    );
    let err = plinth_config::parse("huge", &huge).unwrap_err();
    assert!(err.to_string().contains("limit"), "{err}");
}

#[test]
fn every_type_error_is_reported_up_to_a_cap() {
    let mut text = String::from("#cloud-config\nplinth:\n  services:\n");
    for i in 0..40 {
        text.push_str(&format!("    - name: s{i}\n      exec: 5\n"));
    }
    let diags = plinth_config::parse("many", &text).unwrap_err();
    assert_eq!(diags.errors().count(), 40, "{diags}");
    for i in 0..40 {
        let line = 5 + 2 * i;
        assert!(
            diags
                .to_string()
                .contains(&format!("many:{line}:13: error: expected a list")),
            "{diags}"
        );
    }
    for i in 40..100 {
        text.push_str(&format!("    - name: s{i}\n      exec: 5\n"));
    }
    let diags = plinth_config::parse("many", &text).unwrap_err();
    assert_eq!(
        diags.errors().count(),
        65,
        "64 errors and the note that it stopped"
    );
    assert!(
        diags
            .to_string()
            .contains("too many errors: stopped after 64")
    );
}
