//! `pause` and `resume`: freeze and thaw every process of a container through its cgroup
//! (v1 freezer, v2 cgroup.freeze). Both return once the kernel reports the new state, so
//! `state` then says `paused` or `running`.

use crate::cgroup::{load, manager};
use crate::state::Status;
use crate::{Error, Runtime};

/// Freezes the running container `id`.
pub fn pause(rt: &Runtime, id: &str) -> Result<(), Error> {
    let (_dir, saved) = load(
        rt,
        id,
        &[Status::Running],
        "pause it (only a running container can be paused)",
    )?;
    manager(&saved, "pause it")?.freeze().map_err(Error::from)
}

/// Whether `id` has a cgroup to freeze (a rootless container without a delegated cgroup
/// has none).
pub fn can_pause(rt: &Runtime, id: &str) -> Result<bool, Error> {
    Ok(rt
        .root
        .peek(id)?
        .load()?
        .is_some_and(|s| s.cgroup.is_some()))
}

/// Thaws the paused container `id`.
pub fn resume(rt: &Runtime, id: &str) -> Result<(), Error> {
    let (_dir, saved) = load(
        rt,
        id,
        &[Status::Paused],
        "resume it (only a paused container can be resumed)",
    )?;
    manager(&saved, "resume it")?.thaw().map_err(Error::from)
}
