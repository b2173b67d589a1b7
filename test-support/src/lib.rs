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
    match missing(in_ci(), test, reason) {
        Err(failure) => panic!("{failure}"),
        Ok(skip) => eprintln!("{skip}"),
    }
}

/// What a missing prerequisite comes to: under CI the failure (`Err`), else the skip line. Pure.
fn missing(ci: bool, test: &str, reason: &str) -> Result<String, String> {
    if ci {
        Err(format!(
            "{test}: {reason} (CI=true: a missing prerequisite fails the test)"
        ))
    } else {
        Ok(format!("SKIPPED {test}: {reason}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn under_ci_a_missing_prerequisite_is_a_failure_with_its_reason() {
        assert_eq!(
            missing(true, "join-etcd", "no image"),
            Err("join-etcd: no image (CI=true: a missing prerequisite fails the test)".into())
        );
        assert_eq!(
            missing(false, "join-etcd", "no image"),
            Ok("SKIPPED join-etcd: no image".into())
        );
    }
}
