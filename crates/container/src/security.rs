//! Seccomp: the seam where the filter is installed, last before exec. This build has no
//! filter compiler yet, so a config that asks for one is rejected at validation
//! (`linux.seccomp: not supported`), never run unfiltered.

use crate::init::error::InitError;
use oci_spec::runtime::Spec;

/// Whether this build can install `linux.seccomp` filters.
pub const SECCOMP_SUPPORTED: bool = false;

/// Installs the config's seccomp filter, if any.
pub fn apply_seccomp(spec: &Spec) -> Result<(), InitError> {
    match spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        None => Ok(()),
        Some(_) => Err(InitError::check(
            "linux.seccomp",
            "not supported by this build",
        )),
    }
}
