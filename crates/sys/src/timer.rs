//! timerfd: a periodic timer as an fd, for wait loops that poll.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::Duration;

use crate::cvt;

/// A timer fd (monotonic clock) that first fires after `first`, then every `every`.
pub fn periodic(first: Duration, every: Duration) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall; the result is a new fd we own.
    let fd = cvt(unsafe { libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_CLOEXEC) })?;
    // SAFETY: timerfd_create returned a new fd that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let spec = |d: Duration| libc::timespec {
        tv_sec: d.as_secs() as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    };
    // A zero first expiry would disarm the timer.
    let first = first.max(Duration::from_nanos(1));
    let value = libc::itimerspec {
        it_interval: spec(every),
        it_value: spec(first),
    };
    // SAFETY: a valid itimerspec; no old value asked for.
    cvt(unsafe { libc::timerfd_settime(fd.as_raw_fd(), 0, &value, std::ptr::null_mut()) })?;
    Ok(fd)
}

/// Takes the expirations since the last call (the fd polls readable until then).
pub fn expirations(fd: BorrowedFd<'_>) -> io::Result<u64> {
    let mut buf = [0u8; 8];
    let n = crate::fs::read(fd, &mut buf)?;
    Ok(match n {
        8 => u64::from_ne_bytes(buf),
        _ => 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn fires_first_then_every() {
        let t = periodic(Duration::from_millis(10), Duration::from_millis(10)).unwrap();
        let ready =
            crate::poll::readable(&[Some(t.as_fd())], Some(Duration::from_secs(2))).unwrap();
        assert!(ready[0]);
        assert!(expirations(t.as_fd()).unwrap() >= 1);
    }
}
