//! Thin wrappers over the raw system calls the crate makes outside bpf(2).

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

use crate::error::{Error, Result};

fn sys_err(call: String) -> Error {
    Error::Sys {
        call,
        source: io::Error::last_os_error(),
    }
}

fn fd_from(r: libc::c_int, call: impl FnOnce() -> String) -> Result<OwnedFd> {
    if r < 0 {
        return Err(sys_err(call()));
    }
    // SAFETY: the call just returned this new fd; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(r) })
}

pub(crate) fn eventfd() -> Result<OwnedFd> {
    // SAFETY: eventfd takes no pointers.
    let r = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    fd_from(r, || "eventfd".into())
}

pub(crate) fn inotify_watch(path: &Path, mask: u32) -> Result<OwnedFd> {
    // SAFETY: inotify_init1 takes no pointers.
    let r = unsafe { libc::inotify_init1(libc::IN_CLOEXEC) };
    let fd = fd_from(r, || "inotify_init1".into())?;
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        Error::io(
            "inotify_add_watch",
            path,
            io::ErrorKind::InvalidInput.into(),
        )
    })?;
    // SAFETY: fd is a live inotify fd and c a NUL-terminated path that outlives the call.
    let w = unsafe { libc::inotify_add_watch(fd.as_raw_fd(), c.as_ptr(), mask) };
    if w < 0 {
        return Err(Error::io(
            "inotify_add_watch",
            path,
            io::Error::last_os_error(),
        ));
    }
    Ok(fd)
}

/// Waits until `fd` is readable; false on timeout (`None` waits forever).
pub(crate) fn poll_in(fd: BorrowedFd<'_>, timeout: Option<Duration>) -> Result<bool> {
    let ms = timeout.map_or(-1, |t| t.as_millis().min(i32::MAX as u128) as libc::c_int);
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: p is one valid pollfd for the duration of the call.
        let r = unsafe { libc::poll(&mut p, 1, ms) };
        if r >= 0 {
            return Ok(r > 0);
        }
        if io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return Err(sys_err("poll".into()));
        }
    }
}

/// One read(2) into `buf`; returns the byte count.
pub(crate) fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize> {
    // SAFETY: buf is valid for writes of buf.len() bytes.
    let r = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    if r < 0 {
        return Err(sys_err("read".into()));
    }
    Ok(r as usize)
}

/// kill(2); a process that is already gone is not an error.
pub(crate) fn kill(pid: i32, signal: i32) -> Result<()> {
    // SAFETY: kill takes no pointers.
    if unsafe { libc::kill(pid, signal) } < 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::ESRCH) {
            return Err(Error::Sys {
                call: format!("kill({pid}, {signal})"),
                source: e,
            });
        }
    }
    Ok(())
}
