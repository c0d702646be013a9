//! File-descriptor-relative file system calls: `openat2` resolution inside a root, node
//! creation, stat, locks.

use crate::{cpath, cvt, cvt_long, retry_eintr, EMPTY};
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

/// How `openat2` may resolve a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolve {
    /// Treat the directory fd as `/`: absolute symlinks and `..` stay inside it.
    InRoot,
    /// Like [`Resolve::InRoot`], and no symlink may be followed at all.
    InRootNoSymlinks,
    /// Fail (EXDEV) on any escape instead of clamping it.
    Beneath,
}

impl Resolve {
    fn bits(self) -> u64 {
        let no_magic = libc::RESOLVE_NO_MAGICLINKS;
        match self {
            Resolve::InRoot => libc::RESOLVE_IN_ROOT | no_magic,
            Resolve::InRootNoSymlinks => {
                libc::RESOLVE_IN_ROOT | no_magic | libc::RESOLVE_NO_SYMLINKS
            }
            Resolve::Beneath => libc::RESOLVE_BENEATH | no_magic,
        }
    }
}

/// `openat2(dir, path, flags|O_CLOEXEC, mode, resolve)`.
pub fn openat2(
    dir: BorrowedFd<'_>,
    path: &Path,
    flags: libc::c_int,
    mode: libc::mode_t,
    resolve: Resolve,
) -> io::Result<OwnedFd> {
    let c = cpath(path)?;
    // SAFETY: open_how is plain data; zero is valid for every field.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    how.mode = u64::from(mode);
    how.resolve = resolve.bits();
    loop {
        // SAFETY: `c` is a valid NUL-terminated string and `how` a valid open_how whose size
        // we pass; the kernel returns a new fd or -1.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir.as_raw_fd(),
                c.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        match cvt_long(ret) {
            // SAFETY: a non-negative return is a fresh fd owned by nobody else.
            Ok(fd) => return Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) }),
            // EAGAIN: a concurrent rename raced the lookup; the kernel asks us to retry.
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// `open(path, flags|O_CLOEXEC, mode)` relative to the current directory.
pub fn open(path: &Path, flags: libc::c_int, mode: libc::mode_t) -> io::Result<OwnedFd> {
    openat(None, path, flags, mode)
}

/// `openat(dir or AT_FDCWD, path, flags|O_CLOEXEC, mode)`.
pub fn openat(
    dir: Option<BorrowedFd<'_>>,
    path: &Path,
    flags: libc::c_int,
    mode: libc::mode_t,
) -> io::Result<OwnedFd> {
    let c = cpath(path)?;
    let dfd = dir.map_or(libc::AT_FDCWD, |d| d.as_raw_fd());
    // SAFETY: valid C string; returns a new fd or -1.
    let fd = cvt(unsafe { libc::openat(dfd, c.as_ptr(), flags | libc::O_CLOEXEC, mode) })?;
    // SAFETY: fresh fd.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Re-opens an `O_PATH` fd with real access `flags` through `/proc/self/fd`, which checks
/// permissions against the file the fd points at, never against a path that could be swapped.
pub fn reopen(fd: BorrowedFd<'_>, flags: libc::c_int) -> io::Result<OwnedFd> {
    open(&fd_path(fd.as_raw_fd()), flags, 0)
}

/// `/proc/self/fd/N`, the magic link that names exactly what fd N points at.
pub fn fd_path(fd: RawFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{fd}"))
}

/// `mkdirat(dir, name, mode)`; an existing entry is reported as `AlreadyExists`.
pub fn mkdirat(dir: BorrowedFd<'_>, name: &Path, mode: libc::mode_t) -> io::Result<()> {
    let c = cpath(name)?;
    // SAFETY: valid C string.
    cvt(unsafe { libc::mkdirat(dir.as_raw_fd(), c.as_ptr(), mode) }).map(drop)
}

/// `mknodat(dir, name, mode, dev)`.
pub fn mknodat(
    dir: BorrowedFd<'_>,
    name: &Path,
    mode: libc::mode_t,
    dev: libc::dev_t,
) -> io::Result<()> {
    let c = cpath(name)?;
    // SAFETY: valid C string.
    cvt(unsafe { libc::mknodat(dir.as_raw_fd(), c.as_ptr(), mode, dev) }).map(drop)
}

/// `symlinkat(target, dir, name)`.
pub fn symlinkat(target: &Path, dir: BorrowedFd<'_>, name: &Path) -> io::Result<()> {
    let t = cpath(target)?;
    let n = cpath(name)?;
    // SAFETY: valid C strings.
    cvt(unsafe { libc::symlinkat(t.as_ptr(), dir.as_raw_fd(), n.as_ptr()) }).map(drop)
}

/// `unlinkat(dir, name, flags)`.
pub fn unlinkat(dir: BorrowedFd<'_>, name: &Path, flags: libc::c_int) -> io::Result<()> {
    let c = cpath(name)?;
    // SAFETY: valid C string.
    cvt(unsafe { libc::unlinkat(dir.as_raw_fd(), c.as_ptr(), flags) }).map(drop)
}

/// `fstat(fd)`.
pub fn fstat(fd: BorrowedFd<'_>) -> io::Result<libc::stat> {
    let mut st = MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `st` is a valid out-pointer; AT_EMPTY_PATH stats the fd itself.
    cvt(unsafe {
        libc::fstatat(
            fd.as_raw_fd(),
            EMPTY.as_ptr(),
            st.as_mut_ptr(),
            libc::AT_EMPTY_PATH,
        )
    })?;
    // SAFETY: fstatat succeeded and filled the struct.
    Ok(unsafe { st.assume_init() })
}

/// `fstatfs(fd).f_type`: which file system the fd is on.
pub fn fs_magic(fd: BorrowedFd<'_>) -> io::Result<i64> {
    let mut st = MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: valid fd and out-pointer.
    cvt(unsafe { libc::fstatfs(fd.as_raw_fd(), st.as_mut_ptr()) })?;
    // SAFETY: fstatfs succeeded.
    Ok(unsafe { st.assume_init() }.f_type)
}

/// `fstatvfs(fd).f_flag`: the `ST_*` flags of the mount the fd is on.
pub fn mount_flags(fd: BorrowedFd<'_>) -> io::Result<libc::c_ulong> {
    let mut st = MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: valid fd and out-pointer.
    cvt(unsafe { libc::fstatvfs(fd.as_raw_fd(), st.as_mut_ptr()) })?;
    // SAFETY: fstatvfs succeeded.
    Ok(unsafe { st.assume_init() }.f_flag)
}

/// `procfs`'s magic number, to check that a /proc we write into really is procfs.
pub const PROC_SUPER_MAGIC: i64 = 0x9fa0;

/// `flock(fd, op)`, retried on EINTR.
pub fn flock(fd: BorrowedFd<'_>, op: libc::c_int) -> io::Result<()> {
    // SAFETY: plain syscall on a valid fd.
    retry_eintr(|| unsafe { libc::flock(fd.as_raw_fd(), op) }).map(drop)
}

/// `mkfifoat(dir, name, mode)`.
pub fn mkfifoat(dir: BorrowedFd<'_>, name: &Path, mode: libc::mode_t) -> io::Result<()> {
    mknodat(dir, name, libc::S_IFIFO | mode, 0)
}

/// Marks every fd from `first` upwards close-on-exec, so nothing of the runtime's leaks into
/// the container's process (CVE-2024-21626 class).
pub fn cloexec_from(first: u32) -> io::Result<()> {
    // SAFETY: plain syscall; only sets flags.
    cvt(unsafe { libc::close_range(first, u32::MAX, libc::CLOSE_RANGE_CLOEXEC as i32) }).map(drop)
}

/// Clears close-on-exec on `fd` so it survives exec (`--preserve-fds`, `LISTEN_FDS`).
pub fn clear_cloexec(fd: RawFd) -> io::Result<()> {
    // SAFETY: plain fcntl on an fd number.
    let flags = cvt(unsafe { libc::fcntl(fd, libc::F_GETFD) })?;
    // SAFETY: same.
    cvt(unsafe { libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) }).map(drop)
}

/// Fd number `fd`, if it is open, as this process's own and close-on-exec: for a pipe the
/// parent put on a fixed number for this process alone. Call it once, before anything else
/// opens files.
pub fn take_inherited(fd: RawFd) -> io::Result<Option<OwnedFd>> {
    // SAFETY: F_GETFD only reads the flags of an fd number.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
        return Ok(None);
    }
    // SAFETY: the fd is open, and by this function's contract no other owner exists.
    cvt(unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) })?;
    // SAFETY: as above: open, and owned by nothing else in this process.
    Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// `dup3(old, new, 0)`: makes `new` a copy of `old` that survives exec.
pub fn dup_onto(old: BorrowedFd<'_>, new: RawFd) -> io::Result<()> {
    if old.as_raw_fd() == new {
        return clear_cloexec(new);
    }
    // SAFETY: dup3 on valid fds; `new` is replaced atomically.
    cvt(unsafe { libc::dup3(old.as_raw_fd(), new, 0) }).map(drop)
}

/// `fchdir(fd)`.
pub fn fchdir(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: plain syscall.
    cvt(unsafe { libc::fchdir(fd.as_raw_fd()) }).map(drop)
}

/// `chdir(path)`.
pub fn chdir(path: &Path) -> io::Result<()> {
    let c = cpath(path)?;
    // SAFETY: valid C string.
    cvt(unsafe { libc::chdir(c.as_ptr()) }).map(drop)
}

/// `chroot(path)`.
pub fn chroot(path: &Path) -> io::Result<()> {
    let c = cpath(path)?;
    // SAFETY: valid C string.
    cvt(unsafe { libc::chroot(c.as_ptr()) }).map(drop)
}

/// `umask(mask)`, returning the previous mask.
pub fn umask(mask: libc::mode_t) -> libc::mode_t {
    // SAFETY: umask cannot fail.
    unsafe { libc::umask(mask) }
}

/// Writes all of `data` to `fd` (retrying short writes and EINTR).
pub fn write_all(fd: BorrowedFd<'_>, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        // SAFETY: `data` is a valid buffer of the given length.
        let n = retry_eintr(|| unsafe {
            libc::write(fd.as_raw_fd(), data.as_ptr().cast(), data.len())
        })?;
        data = &data[n as usize..];
    }
    Ok(())
}

/// One `read(2)` into `buf`, retried on EINTR; returns the byte count (0 at end of file).
pub fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is a valid writable buffer of the given length.
    retry_eintr(|| unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) })
        .map(|n| n as usize)
}

/// Borrowed fd of a raw number the caller knows to be open for the borrow's duration.
///
/// # Safety
/// `fd` must be open and stay open while the result is used.
pub unsafe fn borrow_raw<'a>(fd: RawFd) -> BorrowedFd<'a> {
    // SAFETY: forwarded to the caller.
    unsafe { BorrowedFd::borrow_raw(fd) }
}

/// `(major, minor)` → `dev_t`.
pub fn makedev(major: u64, minor: u64) -> libc::dev_t {
    libc::makedev(major as u32, minor as u32)
}

/// Whether `fd` is a character device with the given numbers.
pub fn is_char_device(fd: impl AsFd, major: u32, minor: u32) -> io::Result<bool> {
    let st = fstat(fd.as_fd())?;
    Ok(st.st_mode & libc::S_IFMT == libc::S_IFCHR
        && libc::major(st.st_rdev) == major
        && libc::minor(st.st_rdev) == minor)
}

/// Closes every fd from 3 upwards except those in `keep`: a forked child starts with only
/// what it needs.
pub fn close_all_except(keep: &[RawFd]) -> io::Result<()> {
    let mut keep: Vec<u32> = keep
        .iter()
        .filter(|&&f| f >= 3)
        .map(|&f| f as u32)
        .collect();
    keep.sort_unstable();
    keep.dedup();
    let mut next = 3u32;
    for k in keep {
        if k > next {
            // SAFETY: closes fds the caller no longer uses (its contract).
            cvt(unsafe { libc::close_range(next, k - 1, 0) })?;
        }
        next = k + 1;
    }
    // SAFETY: as above.
    cvt(unsafe { libc::close_range(next, u32::MAX, 0) }).map(drop)
}

/// An anonymous, close-on-exec in-memory file (`memfd_create`).
pub fn memfd(name: &std::ffi::CStr) -> io::Result<OwnedFd> {
    // SAFETY: valid C string; returns a new fd or -1.
    let fd = cvt(unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) })?;
    // SAFETY: fresh fd.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `readlinkat(dir, name)`.
pub fn readlinkat(dir: BorrowedFd<'_>, name: &Path) -> io::Result<PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    let c = cpath(name)?;
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: valid C string and a writable buffer of the given length.
    let n = unsafe {
        libc::readlinkat(
            dir.as_raw_fd(),
            c.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(n as usize);
    Ok(PathBuf::from(std::ffi::OsString::from_vec(buf)))
}

/// `fchownat(dir, name, uid, gid, AT_SYMLINK_NOFOLLOW)`.
pub fn lchownat(dir: BorrowedFd<'_>, name: &Path, uid: u32, gid: u32) -> io::Result<()> {
    let c = cpath(name)?;
    // SAFETY: valid C string.
    cvt(unsafe {
        libc::fchownat(
            dir.as_raw_fd(),
            c.as_ptr(),
            uid,
            gid,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })
    .map(drop)
}
