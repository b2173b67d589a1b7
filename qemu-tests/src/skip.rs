//! What a test does when a prerequisite is missing: under CI (`CI=true`) it fails with the reason,
//! since a test that did not run proves nothing; on a developer's machine it says `SKIPPED` and
//! why, loudly, and the caller returns.

/// Whether this run is CI's (`CI=true`), where nothing may be skipped.
pub fn in_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// `test` cannot run because of `reason`: panics under CI, else prints the skip line.
pub fn unavailable(test: &str, reason: &str) {
    assert!(
        !in_ci(),
        "{test}: {reason} (CI=true: a missing prerequisite fails the test)"
    );
    eprintln!("SKIPPED {test}: {reason}");
}
