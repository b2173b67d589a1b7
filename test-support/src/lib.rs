//! What Plinth's tests share across crates, kept in a crate of its own so that `plinth-init`'s
//! integration tests and `qemu-tests` (which dev-depends on `plinth-init`) can both use it without
//! a dependency cycle.
//!
//! A test whose prerequisite is missing (root, a tool, an image): under CI (`CI=true`) it fails
//! with the reason, since a test that did not run proves nothing; on a developer's machine it says
//! `SKIPPED` and why, loudly, and the caller returns.

#![forbid(unsafe_code)]

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
