//! The few raw syscalls the store and unpacker need, wrapped as safe functions over
//! directory fds. Names passed here are single path components or paths that are
//! resolved with `openat2(RESOLVE_BENEATH)`, never joined onto host paths as strings.

use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn cstr(s: &OsStr) -> io::Result<CString> {
    CString::new(s.as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

fn check(ret: libc::c_int) -> io::Result<()> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// How `openat2` keeps a path inside its directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// `..`, absolute symlinks and symlinks that climb out fail with EXDEV.
    Beneath,
    /// The directory is `/`: absolute symlinks and `..` resolve inside it, as in a chroot.
    InRoot,
}

/// Opens `path` below `dir` without ever leaving it: `..`, absolute symlinks and
/// symlinks that climb out fail with EXDEV, magic links with ELOOP.
pub fn open_beneath(
    dir: BorrowedFd<'_>,
    path: &Path,
    flags: libc::c_int,
    mode: u32,
) -> io::Result<OwnedFd> {
    open_scoped(dir, path, flags, mode, Scope::Beneath)
}

/// Opens `path` inside `dir` as `scope` says; magic links fail with ELOOP.
pub fn open_scoped(
    dir: BorrowedFd<'_>,
    path: &Path,
    flags: libc::c_int,
    mode: u32,
    scope: Scope,
) -> io::Result<OwnedFd> {
    let p = cstr(path.as_os_str())?;
    // SAFETY: open_how is a plain C struct; all-zero is valid (and required for any
    // fields this libc version does not name).
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = u64::try_from(flags | libc::O_CLOEXEC).unwrap_or(0);
    how.mode = if flags & (libc::O_CREAT | libc::O_TMPFILE) != 0 {
        u64::from(mode)
    } else {
        0
    };
    how.resolve = libc::RESOLVE_NO_MAGICLINKS
        | match scope {
            Scope::Beneath => libc::RESOLVE_BENEATH,
            Scope::InRoot => libc::RESOLVE_IN_ROOT,
        };
    loop {
        // SAFETY: p is a valid NUL-terminated string and how a fully initialised open_how
        // whose size we pass; the kernel returns a new fd or -1.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir.as_raw_fd(),
                p.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        if fd < 0 {
            let e = io::Error::last_os_error();
            // EAGAIN: a rename elsewhere raced the lookup (possible with RESOLVE_IN_ROOT
            // and ".."); the kernel asks for another try.
            if e.raw_os_error() == Some(libc::EAGAIN) {
                continue;
            }
            return Err(e);
        }
        let fd =
            libc::c_int::try_from(fd).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
        // SAFETY: fd was just returned by openat2 and is owned by nobody else.
        return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
    }
}

/// Opens the directory `path` below `dir` (see [`open_beneath`]).
pub fn open_dir_beneath(dir: BorrowedFd<'_>, path: &Path) -> io::Result<OwnedFd> {
    open_beneath(dir, path, libc::O_RDONLY | libc::O_DIRECTORY, 0)
}

/// `mkdirat(dir, name, mode)`.
pub fn mkdirat(dir: BorrowedFd<'_>, name: &OsStr, mode: u32) -> io::Result<()> {
    let n = cstr(name)?;
    // SAFETY: valid fd and NUL-terminated name.
    check(unsafe { libc::mkdirat(dir.as_raw_fd(), n.as_ptr(), mode) })
}

/// `mknodat(dir, name, mode, dev)`: device nodes, fifos and overlay whiteouts (0:0).
pub fn mknodat(dir: BorrowedFd<'_>, name: &OsStr, mode: u32, dev: libc::dev_t) -> io::Result<()> {
    let n = cstr(name)?;
    // SAFETY: valid fd and NUL-terminated name.
    check(unsafe { libc::mknodat(dir.as_raw_fd(), n.as_ptr(), mode, dev) })
}

/// `symlinkat(target, dir, name)`.
pub fn symlinkat(target: &OsStr, dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    let t = cstr(target)?;
    let n = cstr(name)?;
    // SAFETY: valid fd and NUL-terminated strings.
    check(unsafe { libc::symlinkat(t.as_ptr(), dir.as_raw_fd(), n.as_ptr()) })
}

/// `linkat(old_dir, old_name, new_dir, new_name, 0)`: never follows a symlink at old_name.
pub fn linkat(
    old_dir: BorrowedFd<'_>,
    old: &OsStr,
    new_dir: BorrowedFd<'_>,
    new: &OsStr,
) -> io::Result<()> {
    let o = cstr(old)?;
    let n = cstr(new)?;
    // SAFETY: valid fds and NUL-terminated names.
    check(unsafe {
        libc::linkat(
            old_dir.as_raw_fd(),
            o.as_ptr(),
            new_dir.as_raw_fd(),
            n.as_ptr(),
            0,
        )
    })
}

/// `unlinkat(dir, name, AT_REMOVEDIR or 0)`.
pub fn unlinkat(dir: BorrowedFd<'_>, name: &OsStr, is_dir: bool) -> io::Result<()> {
    let n = cstr(name)?;
    let flags = if is_dir { libc::AT_REMOVEDIR } else { 0 };
    // SAFETY: valid fd and NUL-terminated name.
    check(unsafe { libc::unlinkat(dir.as_raw_fd(), n.as_ptr(), flags) })
}

/// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`.
pub fn lstatat(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<libc::stat> {
    let n = cstr(name)?;
    // SAFETY: an all-zero stat is a valid value of this plain C struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid fd, NUL-terminated name and a writable stat buffer.
    check(unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            n.as_ptr(),
            &mut st,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })?;
    Ok(st)
}

/// `fstat(fd)`: works on `O_PATH` fds too, so a file is stat'ed without opening it.
pub fn fstat(fd: BorrowedFd<'_>) -> io::Result<libc::stat> {
    // SAFETY: an all-zero stat is a valid value of this plain C struct.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid fd and a writable stat buffer.
    check(unsafe { libc::fstat(fd.as_raw_fd(), &mut st) })?;
    Ok(st)
}

/// `fstatfs(fd).f_type`: which file system the fd is on.
pub fn fs_magic(fd: BorrowedFd<'_>) -> io::Result<i64> {
    // SAFETY: an all-zero statfs is a valid value of this plain C struct.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid fd and a writable statfs buffer.
    check(unsafe { libc::fstatfs(fd.as_raw_fd(), &mut st) })?;
    Ok(st.f_type)
}

/// The target of the symlink an `O_PATH | O_NOFOLLOW` fd holds.
pub fn readlink_fd(fd: BorrowedFd<'_>) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: an empty path with an O_PATH fd reads that link; the buffer is writable for
    // its length.
    let n = unsafe {
        libc::readlinkat(
            fd.as_raw_fd(),
            c"".as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(usize::try_from(n).unwrap_or(0));
    Ok(buf)
}

/// An extended attribute of the open file `fd`; None if absent.
pub fn fgetxattr(fd: BorrowedFd<'_>, key: &OsStr) -> io::Result<Option<Vec<u8>>> {
    let k = cstr(key)?;
    let mut buf = vec![0u8; 4096];
    // SAFETY: valid fd, NUL-terminated key, writable buffer of the given length.
    let n = unsafe {
        libc::fgetxattr(
            fd.as_raw_fd(),
            k.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::ENODATA) | Some(libc::ENOTSUP) => Ok(None),
            _ => Err(e),
        };
    }
    buf.truncate(usize::try_from(n).unwrap_or(0));
    Ok(Some(buf))
}

/// The names in the open directory `dir`, sorted (a tree walked twice is walked the same
/// way). Listed through the fd's `/proc/self/fd` link, which names exactly that directory.
pub fn list_dir(dir: BorrowedFd<'_>) -> io::Result<Vec<std::ffi::OsString>> {
    let mut names = Vec::new();
    for e in std::fs::read_dir(format!("/proc/self/fd/{}", dir.as_raw_fd()))? {
        names.push(e?.file_name());
    }
    names.sort();
    Ok(names)
}

/// Whether the file `fd` (with stat `st`; `O_PATH` is enough) is empty: a regular file of
/// no bytes or a directory without entries.
pub fn is_empty(fd: BorrowedFd<'_>, st: &libc::stat) -> io::Result<bool> {
    Ok(match st.st_mode & libc::S_IFMT {
        libc::S_IFREG => st.st_size == 0,
        libc::S_IFDIR => list_dir(fd)?.is_empty(),
        _ => false,
    })
}

/// `fchownat(dir, name, uid, gid, AT_SYMLINK_NOFOLLOW)`.
pub fn lchownat(dir: BorrowedFd<'_>, name: &OsStr, uid: u32, gid: u32) -> io::Result<()> {
    let n = cstr(name)?;
    // SAFETY: valid fd and NUL-terminated name.
    check(unsafe {
        libc::fchownat(
            dir.as_raw_fd(),
            n.as_ptr(),
            uid,
            gid,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })
}

/// `fchmodat(dir, name, mode, 0)`; callers never use it on a symlink.
pub fn fchmodat(dir: BorrowedFd<'_>, name: &OsStr, mode: u32) -> io::Result<()> {
    let n = cstr(name)?;
    // SAFETY: valid fd and NUL-terminated name.
    check(unsafe { libc::fchmodat(dir.as_raw_fd(), n.as_ptr(), mode, 0) })
}

/// Sets atime and mtime (seconds, nanoseconds) of `name` in `dir` without following symlinks.
pub fn lutimesat(dir: BorrowedFd<'_>, name: &OsStr, mtime: (i64, i64)) -> io::Result<()> {
    let n = cstr(name)?;
    let ts = libc::timespec {
        tv_sec: mtime.0,
        tv_nsec: mtime.1,
    };
    let times = [ts, ts];
    // SAFETY: valid fd, NUL-terminated name and an array of two timespecs.
    check(unsafe {
        libc::utimensat(
            dir.as_raw_fd(),
            n.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })
}

/// Sets an extended attribute on `name` in `dir` without following a symlink at `name`:
/// goes through the `/proc/self/fd` link of the directory, which pins it.
pub fn lsetxattrat(dir: BorrowedFd<'_>, name: &OsStr, key: &OsStr, value: &[u8]) -> io::Result<()> {
    let mut p = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
    p.extend_from_slice(name.as_bytes());
    let p = CString::new(p).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let k = cstr(key)?;
    // SAFETY: NUL-terminated path and key, value pointer and length from a slice.
    check(unsafe {
        libc::lsetxattr(
            p.as_ptr(),
            k.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    })
}

/// Reads an extended attribute of `name` in `dir` (no symlink follow); None if absent.
pub fn lgetxattrat(dir: BorrowedFd<'_>, name: &OsStr, key: &OsStr) -> io::Result<Option<Vec<u8>>> {
    let mut p = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
    p.extend_from_slice(name.as_bytes());
    let p = CString::new(p).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let k = cstr(key)?;
    let mut buf = vec![0u8; 256];
    // SAFETY: NUL-terminated path and key, writable buffer of the given length.
    let n = unsafe { libc::lgetxattr(p.as_ptr(), k.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        let e = io::Error::last_os_error();
        return if e.raw_os_error() == Some(libc::ENODATA) {
            Ok(None)
        } else {
            Err(e)
        };
    }
    buf.truncate(usize::try_from(n).unwrap_or(0));
    Ok(Some(buf))
}

fn flock_op(fd: BorrowedFd<'_>, op: libc::c_int) -> io::Result<()> {
    loop {
        // SAFETY: valid fd.
        match check(unsafe { libc::flock(fd.as_raw_fd(), op) }) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// Takes an flock on `fd`, shared or exclusive, waiting for it.
pub fn flock(fd: BorrowedFd<'_>, exclusive: bool) -> io::Result<()> {
    flock_op(
        fd,
        if exclusive {
            libc::LOCK_EX
        } else {
            libc::LOCK_SH
        },
    )
}

/// Takes an exclusive flock on `fd` unless another open file holds one (then false).
pub fn try_flock(fd: BorrowedFd<'_>) -> io::Result<bool> {
    match flock_op(fd, libc::LOCK_EX | libc::LOCK_NB) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
        Err(e) => Err(e),
    }
}

/// Mounts an overlayfs at `target` with the given option string.
pub fn mount_overlay(target: &Path, options: &str) -> io::Result<()> {
    let src = CString::new("overlay").map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let t = cstr(target.as_os_str())?;
    let o = CString::new(options).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: NUL-terminated strings; data is the option string overlayfs parses.
    check(unsafe { libc::mount(src.as_ptr(), t.as_ptr(), src.as_ptr(), 0, o.as_ptr().cast()) })
}

/// Unmounts `target` (lazily, so a busy mount does not keep the container's files alive).
pub fn umount(target: &Path) -> io::Result<()> {
    let t = cstr(target.as_os_str())?;
    // SAFETY: NUL-terminated path.
    check(unsafe { libc::umount2(t.as_ptr(), libc::MNT_DETACH) })
}

/// Whether this process lacks root privileges on the host, as a user or as root of a user
/// namespace (rootless rules apply: `user.overlay.*` xattrs, no device nodes).
pub fn rootless() -> bool {
    !can_chown() || berth_sys::ids::in_user_namespace()
}

/// Whether this process may give files other owners: root, also of a user namespace, where
/// the owners are those its id maps cover.
pub fn can_chown() -> bool {
    berth_sys::ids::geteuid() == 0
}

/// `fsync` on a directory (or file) fd, making renames inside it durable.
pub fn fsync(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: valid fd.
    check(unsafe { libc::fsync(fd.as_raw_fd()) })
}

/// The process's umask, read from `/proc/self/status` (setting it to learn it would race
/// with other threads creating files); 0o022 where the kernel does not report it.
pub fn current_umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

/// The effective uid and gid.
pub fn effective_ids() -> (u32, u32) {
    // SAFETY: these calls cannot fail.
    unsafe { (libc::geteuid(), libc::getegid()) }
}
