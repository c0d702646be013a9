//! Executing programs: `execve`, `execveat` on an fd, sealed `memfd`s.

use crate::{cstring, cvt, EMPTY};
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// NULL-terminated pointer array over C strings, as execve wants it.
fn ptrs(v: &[CString]) -> Vec<*const libc::c_char> {
    v.iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// `execve(path, argv, envp)`; returns only on failure.
pub fn execve(path: &CString, argv: &[CString], envp: &[CString]) -> io::Error {
    let a = ptrs(argv);
    let e = ptrs(envp);
    // SAFETY: all arrays are NULL-terminated and point at live C strings.
    unsafe { libc::execve(path.as_ptr(), a.as_ptr(), e.as_ptr()) };
    io::Error::last_os_error()
}

/// `execveat(fd, "", argv, envp, AT_EMPTY_PATH)`: executes the file the fd holds.
pub fn execveat(fd: BorrowedFd<'_>, argv: &[CString], envp: &[CString]) -> io::Error {
    let a = ptrs(argv);
    let e = ptrs(envp);
    // SAFETY: arrays are NULL-terminated and point at live C strings; empty path + flag.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            fd.as_raw_fd(),
            EMPTY.as_ptr(),
            a.as_ptr(),
            e.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    io::Error::last_os_error()
}

/// A sealed, executable, close-on-exec memfd holding `contents`: nobody can change it.
pub fn sealed_memfd(name: &str, contents: &[u8]) -> io::Result<OwnedFd> {
    let c = cstring(name.as_bytes())?;
    let base = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    // MFD_EXEC (Linux 6.3) states the intent; older kernels reject the unknown flag.
    // SAFETY: valid C string; returns a new fd or -1.
    let fd = match cvt(unsafe { libc::memfd_create(c.as_ptr(), base | libc::MFD_EXEC) }) {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            // SAFETY: as above.
            cvt(unsafe { libc::memfd_create(c.as_ptr(), base) })?
        }
        r => r?,
    };
    // SAFETY: fresh fd.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    crate::fs::write_all(fd_borrow(&fd), contents)?;
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    // SAFETY: plain fcntl on a valid fd.
    cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, seals) })?;
    Ok(fd)
}

fn fd_borrow(fd: &OwnedFd) -> BorrowedFd<'_> {
    use std::os::fd::AsFd;
    fd.as_fd()
}
