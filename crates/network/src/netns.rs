//! Work inside another network namespace: a thread of its own joins it (the namespace is a
//! per-thread attribute), so the caller's stays as it was. Sockets opened there stay there.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};

/// Runs `f` on a thread that has joined the network namespace `ns`.
pub(crate) fn run_in<T: Send>(
    ns: BorrowedFd<'_>,
    f: impl FnOnce() -> io::Result<T> + Send,
) -> io::Result<T> {
    std::thread::scope(|s| {
        s.spawn(|| {
            berth_sys::ns::setns(ns.as_fd(), libc::CLONE_NEWNET)?;
            f()
        })
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("network namespace thread panicked")))
    })
}

/// Writes `value` to the sysctl `path` (under /proc/sys) of this thread's namespace unless it
/// holds it already.
pub(crate) fn sysctl(path: &str, value: &str) -> io::Result<()> {
    let p = format!("/proc/sys/{path}");
    match std::fs::read_to_string(&p) {
        Ok(v) if v.trim() == value => Ok(()),
        _ => std::fs::write(&p, value).map_err(|e| io::Error::new(e.kind(), format!("{p}: {e}"))),
    }
}
