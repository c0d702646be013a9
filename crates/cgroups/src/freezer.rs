//! Freezer state, common to the v1 freezer controller and v2's cgroup.freeze.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How long freeze/thaw wait for the kernel to finish before giving up.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(10);

/// Where the cgroup's freezer stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FreezerState {
    /// Running.
    Thawed,
    /// Asked to freeze; some tasks are not frozen yet.
    Freezing,
    /// Every task is frozen.
    Frozen,
}
