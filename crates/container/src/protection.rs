//! Protections a test may switch off, to prove that its attack succeeds without them and so
//! that the test can fail. Only debug builds read the switch
//! (`BERTH_TEST_DISABLE_PROTECTION=name,...`); release builds always protect.

/// Whether the protection `name` is switched off for this (debug, test) run.
pub(crate) fn off(name: &str) -> bool {
    cfg!(debug_assertions)
        && std::env::var("BERTH_TEST_DISABLE_PROTECTION")
            .is_ok_and(|v| v.split(',').any(|x| x == name))
}
