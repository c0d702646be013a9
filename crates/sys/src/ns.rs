//! Namespaces: `unshare`, `setns`, `sethostname`, `setdomainname`.

use crate::{cvt, cvt_long};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// `unshare(flags)`.
pub fn unshare(flags: libc::c_int) -> io::Result<()> {
    // SAFETY: plain syscall.
    cvt(unsafe { libc::unshare(flags) }).map(drop)
}

/// `setns(fd, nstype)`; `nstype` 0 accepts any type.
pub fn setns(fd: BorrowedFd<'_>, nstype: libc::c_int) -> io::Result<()> {
    // SAFETY: plain syscall on a valid fd.
    cvt(unsafe { libc::setns(fd.as_raw_fd(), nstype) }).map(drop)
}

/// `sethostname(name)`.
pub fn sethostname(name: &str) -> io::Result<()> {
    // SAFETY: the pointer and length describe `name`.
    cvt(unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) }).map(drop)
}

/// `setdomainname(name)`.
pub fn setdomainname(name: &str) -> io::Result<()> {
    // SAFETY: the pointer and length describe `name`.
    cvt_long(unsafe { libc::syscall(libc::SYS_setdomainname, name.as_ptr(), name.len()) }).map(drop)
}
