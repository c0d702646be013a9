//! `delete`: remove a stopped (or created) container, or with `force` a running one, then run
//! its poststop hooks. A directory left by a `create` that died halfway is removed too.

use crate::hooks::{self, HookState};
use crate::kill::{init_pidfd, signal_all};
use crate::state::{ContainerDir, Saved, Status};
use crate::{Error, Runtime};
use std::os::fd::AsFd;
use std::time::Duration;

/// How long `delete` waits for a killed container to die.
const KILL_TIMEOUT: Duration = Duration::from_secs(10);
/// With `--force`, a container that does not die (its init frozen by someone else) is waited
/// for this long, then its state is removed anyway, with a warning (as crun does).
const FORCE_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a killed init may take to die before `delete` looks for why it has not.
const RESCUE_AFTER: Duration = Duration::from_millis(200);

/// Deletes container `id`.
pub fn delete(rt: &Runtime, id: &str, force: bool) -> Result<(), Error> {
    let dir = rt.root.open(id)?;
    let saved = dir.load()?;
    let status = dir.status(saved.as_ref())?;
    let Some(saved) = saved else {
        // No state file while we hold the lock: the creating process died before finishing.
        // Its init died with it (parent-death signal); its cgroup may remain.
        if let Some(c) = dir.load_creating()? {
            c.destroy(true)?;
        }
        return dir.remove().map_err(Error::from);
    };
    match status {
        Status::Stopped => {}
        Status::Created => stop(&saved, force)?,
        Status::Running | Status::Paused if force => stop(&saved, true)?,
        _ => {
            return Err(Error::WrongStatus {
                id: id.into(),
                status,
                action: "delete it (stop it first, or use --force)",
            })
        }
    }
    destroy(dir, &saved, force)
}

/// Kills every process of the container and waits until the init is gone. With `force`, an
/// init that will not die is reported and left behind.
pub(crate) fn stop(saved: &Saved, force: bool) -> Result<(), Error> {
    let pidfd = init_pidfd(saved)?;
    signal_all(saved, libc::SIGKILL)?;
    let Some(fd) = pidfd else { return Ok(()) };
    // The init too, by its pidfd: it may have been moved out of the container's cgroup.
    let _ = berth_sys::process::pidfd_send_signal(fd.as_fd(), libc::SIGKILL);
    let timeout = if force { FORCE_TIMEOUT } else { KILL_TIMEOUT };
    let mut waited = wait_exit(fd.as_fd(), RESCUE_AFTER);
    if let (Err(_), Some(c)) = (&waited, &saved.cgroup) {
        // Still alive: someone may have moved the init into a frozen v1 freezer cgroup of
        // their own, where even SIGKILL waits for a thaw. Moving it back into the
        // container's cgroup (never frozen after kill_all) lets the kill land. The pidfd
        // poll just said it has not exited, so the pid is still the init's.
        if let Err(e) = c.add_process(saved.pid) {
            tracing::debug!("move pid {} back into its cgroup: {e}", saved.pid);
        }
        waited = wait_exit(fd.as_fd(), timeout);
    }
    match waited {
        Err(e) if force => {
            tracing::warn!("container {}: {e}; removing its state anyway", saved.id);
            Ok(())
        }
        r => r,
    }
}

/// Waits until the process behind `pidfd` has exited (reaped or not).
pub(crate) fn wait_exit(
    pidfd: std::os::fd::BorrowedFd<'_>,
    timeout: Duration,
) -> Result<(), Error> {
    let ready = berth_sys::poll::readable(&[Some(pidfd)], Some(timeout))
        .map_err(Error::io("wait for the container's init"))?;
    if ready[0] {
        Ok(())
    } else {
        Err(Error::Usage(
            "the container's init did not exit after SIGKILL".into(),
        ))
    }
}

/// Removes what the container left (cgroup, state), then runs poststop hooks: their failures
/// are warnings (runtime-spec). With `force`, a cgroup that cannot go is a warning too.
pub(crate) fn destroy(dir: ContainerDir, saved: &Saved, force: bool) -> Result<(), Error> {
    if let Some(c) = &saved.cgroup {
        match c.destroy(true) {
            Err(e) if force => tracing::warn!("container {}: cgroup: {e}", saved.id),
            r => r?,
        }
    }
    dir.remove()?;
    if let Some(list) = saved
        .config
        .hooks()
        .as_ref()
        .and_then(|h| h.poststop().clone())
    {
        let state = HookState {
            oci_version: saved.config.version(),
            id: &saved.id,
            status: Status::Stopped,
            pid: None,
            bundle: &saved.bundle,
            annotations: saved.annotations(),
        };
        hooks::run_warning("poststop", &list, &state);
    }
    Ok(())
}
