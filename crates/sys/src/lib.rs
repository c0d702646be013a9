//! The one thin layer between berth and the Linux kernel.
//!
//! Every function here is a direct, safe wrapper over one system call (or a tiny fixed group of
//! them) that returns `std::io::Result`. No policy lives here: which mount, which namespace and
//! in which order is decided by the callers, whose logic can therefore be unit-tested without
//! root. Callers add context (the path, the container) to the bare errno errors.

pub mod caps;
pub mod exec;
pub mod fs;
pub mod ids;
pub mod mount;
pub mod net;
pub mod ns;
pub mod poll;
pub mod process;
pub mod pty;
pub mod signal;
pub mod socket;
pub mod timer;

use std::ffi::{CStr, CString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Turns a `-1`-on-error return value into `io::Result`.
pub(crate) fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Same as [`cvt`] for raw `syscall(2)` results, which are `c_long`.
pub(crate) fn cvt_long(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Calls `f`, a system call that returns -1 on error, again for as long as it fails with
/// EINTR.
pub fn retry_eintr<T: From<i8> + PartialEq>(mut f: impl FnMut() -> T) -> io::Result<T> {
    loop {
        let r = f();
        if r != T::from(-1) {
            return Ok(r);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// A path as a C string; a NUL byte inside is an `InvalidInput` error, not a panic.
pub fn cpath(path: &Path) -> io::Result<CString> {
    cstring(path.as_os_str().as_bytes())
}

/// Bytes as a C string; a NUL byte inside is an `InvalidInput` error.
pub fn cstring(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL byte in string"))
}

/// The empty C string, for `AT_EMPTY_PATH` calls.
pub(crate) const EMPTY: &CStr = c"";

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake system call that fails with each errno of `errnos` in turn, then returns 7.
    fn failing(errnos: &[libc::c_int]) -> impl FnMut() -> libc::c_int + '_ {
        let mut left = errnos.iter();
        move || match left.next() {
            Some(&e) => {
                // SAFETY: errno is this thread's own variable.
                unsafe { *libc::__errno_location() = e };
                -1
            }
            None => 7,
        }
    }

    #[test]
    fn retry_eintr_retries_only_eintr() {
        assert_eq!(
            retry_eintr(failing(&[libc::EINTR, libc::EINTR])).ok(),
            Some(7)
        );
        let e = retry_eintr(failing(&[libc::EINTR, libc::EBADF, libc::EINTR])).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EBADF));
    }
}
