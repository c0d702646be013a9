//! `poll(2)` for input.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};

/// Waits until one of `fds` is readable or hung up, or until `timeout` has passed (`None`:
/// no limit); says which are (none, after a timeout). `None` entries are skipped. A wait
/// interrupted by a signal resumes with the time left.
pub fn readable(
    fds: &[Option<BorrowedFd<'_>>],
    timeout: Option<Duration>,
) -> io::Result<Vec<bool>> {
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut p: Vec<libc::pollfd> = fds
        .iter()
        .map(|fd| libc::pollfd {
            // A negative fd is skipped by poll.
            fd: fd.map_or(-1, |f| f.as_raw_fd()),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    crate::retry_eintr(|| {
        // Rounded up: a deadline less than a millisecond away must not spin.
        let ms = deadline.map_or(-1, |d| {
            let left = d.saturating_duration_since(Instant::now());
            left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32
        });
        // SAFETY: `p` is a valid array of `p.len()` pollfds for the call's duration.
        unsafe { libc::poll(p.as_mut_ptr(), p.len() as libc::nfds_t, ms) }
    })?;
    Ok(p.iter().map(|x| x.revents != 0).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsFd;

    #[test]
    fn says_which_fds_are_readable_and_times_out() {
        let (r1, mut w1) = std::io::pipe().unwrap();
        let (r2, _w2) = std::io::pipe().unwrap();
        let fds = [Some(r1.as_fd()), None, Some(r2.as_fd())];
        let t = Some(Duration::from_millis(20));
        assert_eq!(readable(&fds, t).unwrap(), vec![false, false, false]);
        w1.write_all(b"x").unwrap();
        assert_eq!(readable(&fds, None).unwrap(), vec![true, false, false]);
    }
}
