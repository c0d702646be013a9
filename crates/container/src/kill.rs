//! `kill`: send a signal to a container's init, or with `all` to every process in it.

use crate::state::{Saved, Status};
use crate::{procfs, Error, Runtime};
use berth_cgroups::{FreezerState, Kind};
use berth_sys::process as sysproc;
use std::os::fd::{AsFd, OwnedFd};

/// Sends `signal` to container `id`.
pub fn kill(rt: &Runtime, id: &str, signal: i32, all: bool) -> Result<(), Error> {
    let dir = rt.root.peek(id)?;
    let saved = dir.load()?;
    let status = dir.status(saved.as_ref())?;
    match (saved, status) {
        (Some(saved), Status::Created | Status::Running | Status::Paused) if all => {
            signal_all(&saved, signal)
        }
        (Some(saved), Status::Created | Status::Running | Status::Paused) => {
            signal_init(&saved, signal)
        }
        // As runc: `--all` still reaches what is left in the cgroup of an init that exited
        // (the shims send it when a container without its own pid namespace ends).
        (Some(saved), Status::Stopped) if all => match &saved.cgroup {
            Some(c) if c.exists() => c.kill_all(signal).map_err(Error::from),
            _ => Ok(()),
        },
        (_, Status::Stopped) => Err(Error::NotRunning(id.into())),
        (_, status) => Err(Error::WrongStatus {
            id: id.into(),
            status,
            action: "signal it",
        }),
    }
}

/// A pidfd on the container's init, or `None` if it is gone; the start time check after
/// `pidfd_open` makes sure the fd is not on a new process that reused the pid.
pub(crate) fn init_pidfd(saved: &Saved) -> Result<Option<OwnedFd>, Error> {
    let fd = match sysproc::pidfd_open(saved.pid) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(None),
        Err(e) => return Err(Error::io(format!("pidfd_open {}", saved.pid))(e)),
    };
    let alive = procfs::is_alive(saved.pid, saved.start_time).map_err(Error::io("read /proc"))?;
    Ok(alive.then_some(fd))
}

fn signal_init(saved: &Saved, signal: i32) -> Result<(), Error> {
    let Some(fd) = init_pidfd(saved)? else {
        return Err(Error::NotRunning(saved.id.clone()));
    };
    sysproc::pidfd_send_signal(fd.as_fd(), signal)
        .map_err(Error::io(format!("signal {signal} to pid {}", saved.pid)))
}

/// Every process of the container: its cgroup's, or without one, those in the init's pid
/// namespace.
pub(crate) fn signal_all(saved: &Saved, signal: i32) -> Result<(), Error> {
    if let Some(c) = &saved.cgroup {
        // SIGKILL to the init of a pid namespace the container made ends every process in
        // it: the kernel kills them all before the init's exit is reported. On cgroup v1
        // that spares freezing and thawing the cgroup (about 1 ms of every `rm -f`; v2 has
        // one write to cgroup.kill), unless it is frozen (paused), where a kill waits for the
        // thaw that `kill_all` does.
        if signal == libc::SIGKILL
            && c.kind() != Kind::V2
            && pid_namespace(saved).is_some_and(|n| n.path().is_none())
            && matches!(c.freezer_state(), Ok(FreezerState::Thawed))
        {
            return match signal_init(saved, signal) {
                Err(Error::NotRunning(_)) => Ok(()),
                r => r,
            };
        }
        return c.kill_all(signal).map_err(Error::from);
    }
    for pid in members(saved)? {
        let _ = sysproc::kill(pid, signal);
    }
    Ok(())
}

/// The container's pid namespace entry: one it made (no path) or joined.
fn pid_namespace(saved: &Saved) -> Option<&oci_spec::runtime::LinuxNamespace> {
    saved
        .config
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .and_then(|n| {
            n.iter()
                .find(|n| n.typ() == oci_spec::runtime::LinuxNamespaceType::Pid)
        })
}

/// Pids of the container's processes: every process whose pid namespace is the init's (when
/// the container has a pid namespace of its own), else just the init.
pub(crate) fn members(saved: &Saved) -> Result<Vec<i32>, Error> {
    if pid_namespace(saved).is_none() {
        return Ok(vec![saved.pid]);
    }
    let ns_of = |pid: i32| std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
    // A waiting init is not dumpable, so an unprivileged runtime cannot read its namespace;
    // then the init alone is signalled (SIGKILL to it ends its whole pid namespace).
    let Some(target) = ns_of(saved.pid) else {
        return Ok(vec![saved.pid]);
    };
    let mut pids = Vec::new();
    for e in std::fs::read_dir("/proc")
        .map_err(Error::io("read /proc"))?
        .flatten()
    {
        if let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) {
            if ns_of(pid).as_ref() == Some(&target) {
                pids.push(pid);
            }
        }
    }
    Ok(pids)
}
