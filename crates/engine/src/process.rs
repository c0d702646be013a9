//! Waiting for processes the engine did not fork: the monitor of a container, its init.

use crate::record::Owner;
use crate::Error;
use berth_sys::process as sysproc;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// Waits until `p` has ended, for at most `timeout` (no limit with `None`); true if it did.
pub(crate) fn wait_exit(p: Owner, timeout: Option<Duration>) -> Result<bool, Error> {
    let fd: OwnedFd = match sysproc::pidfd_open(p.pid) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(true),
        Err(e) => return Err(Error::io(format!("pidfd_open {}", p.pid))(e)),
    };
    // The pid may have been reused before the pidfd was opened.
    if !p.alive() {
        return Ok(true);
    }
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let ms = match deadline {
            None => -1,
            Some(d) => d
                .saturating_duration_since(Instant::now())
                .as_millis()
                .min(i32::MAX as u128) as i32,
        };
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        match unsafe { libc::poll(&mut pfd, 1, ms) } {
            n if n > 0 => return Ok(true),
            0 => return Ok(false),
            _ => {
                let e = std::io::Error::last_os_error();
                if e.kind() != std::io::ErrorKind::Interrupted {
                    return Err(Error::io(format!("wait for pid {}", p.pid))(e));
                }
            }
        }
    }
}
