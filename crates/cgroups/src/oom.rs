//! OOM notification: an fd the runtime can poll in its single-threaded event loop, and a
//! blocking [`OomWatcher::wait`] on top of it.
//!
//! * v1: an eventfd registered through `cgroup.event_control` for `memory.oom_control`; the
//!   kernel also signals it when the cgroup is removed.
//! * v2: inotify on `memory.events`, whose `oom` and `oom_kill` counters are compared with
//!   the values seen when the watcher was made.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::fs::{keyed, Dir};
use crate::sys;

/// What [`OomWatcher::wait`] saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OomEvent {
    /// The cgroup hit its memory limit this many times (v1) or its OOM counters grew by this
    /// much (v2) since the last report.
    Oom(u64),
    /// The cgroup was removed; no more events will come.
    CgroupGone,
    /// The timeout passed with nothing to report.
    Timeout,
}

/// Watches one cgroup for OOM events. Made by [`crate::Manager::oom_watcher`].
#[derive(Debug)]
pub struct OomWatcher {
    fd: OwnedFd,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    V1 {
        /// The registration refers to this file; kept open while we listen.
        _oom_control: File,
        event_control: PathBuf,
    },
    V2 {
        dir: PathBuf,
        /// `oom` and `oom_kill` as last reported.
        seen: (u64, u64),
    },
}

impl OomWatcher {
    pub(crate) fn v1(dir: &Path) -> Result<OomWatcher> {
        let oc_path = dir.join("memory.oom_control");
        let oom_control = File::open(&oc_path).map_err(|e| Error::io("open", &oc_path, e))?;
        let fd = sys::eventfd()?;
        let line = format!("{} {}", fd.as_raw_fd(), oom_control.as_raw_fd());
        Dir(dir).write("oom events", "cgroup.event_control", &line)?;
        Ok(OomWatcher {
            fd,
            kind: Kind::V1 {
                _oom_control: oom_control,
                event_control: dir.join("cgroup.event_control"),
            },
        })
    }

    pub(crate) fn v2(dir: &Path) -> Result<OomWatcher> {
        let fd = sys::inotify_watch(&dir.join("memory.events"), libc::IN_MODIFY)?;
        let seen = oom_count(dir)?;
        Ok(OomWatcher {
            fd,
            kind: Kind::V2 {
                dir: dir.to_path_buf(),
                seen,
            },
        })
    }

    /// Blocks until an OOM event, the cgroup's removal, or `timeout` (`None`: no limit).
    pub fn wait(&mut self, timeout: Option<Duration>) -> Result<OomEvent> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            if let Kind::V2 { dir, seen } = &mut self.kind {
                let Ok(now) = oom_count(dir) else {
                    return Ok(OomEvent::CgroupGone);
                };
                let grew = (now.0 - seen.0.min(now.0)).max(now.1 - seen.1.min(now.1));
                *seen = now;
                if grew > 0 {
                    return Ok(OomEvent::Oom(grew));
                }
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if !sys::poll_in(self.fd.as_fd(), left)? {
                return Ok(OomEvent::Timeout);
            }
            let mut buf = [0u8; 4096];
            let n = sys::read(self.fd.as_fd(), &mut buf)?;
            match &self.kind {
                Kind::V1 { event_control, .. } => {
                    if !event_control.exists() {
                        return Ok(OomEvent::CgroupGone);
                    }
                    // An eventfd read is its 8-byte counter.
                    let count = buf
                        .get(..n.min(8))
                        .and_then(|b| <[u8; 8]>::try_from(b).ok());
                    return Ok(OomEvent::Oom(count.map_or(1, u64::from_ne_bytes)));
                }
                // Loop: re-read the counters; a removed file shows as CgroupGone there.
                Kind::V2 { .. } => {}
            }
        }
    }
}

impl AsFd for OomWatcher {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// `oom` and `oom_kill` from memory.events: either growing means the limit bit.
pub(crate) fn oom_count(dir: &Path) -> Result<(u64, u64)> {
    let ev = Dir(dir).read_keyed("memory.events")?;
    Ok((keyed(&ev, "oom"), keyed(&ev, "oom_kill")))
}
