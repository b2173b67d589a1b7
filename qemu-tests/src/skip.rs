//! What a test does when a prerequisite is missing: under CI (`CI=true`) it fails with the reason,
//! since a test that did not run proves nothing; on a developer's machine it says `SKIPPED` and
//! why, loudly, and the caller returns. Defined once in `plinth-test-support`, which
//! `plinth-init`'s integration tests use too.

pub use plinth_test_support::{in_ci, unavailable};
