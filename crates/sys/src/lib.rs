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
