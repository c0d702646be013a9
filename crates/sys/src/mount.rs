//! Mount system calls, old (`mount(2)`) and new (`open_tree`, `fsopen`, `move_mount`,
//! `mount_setattr`). The new API works on file descriptors, so a mount can be attached to a
//! target that was resolved safely inside the container's root and cannot be swapped.

use crate::{cpath, cstring, cvt, cvt_long, EMPTY};
use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

/// `mount(source, target, fstype, flags, data)`.
pub fn mount(
    source: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> io::Result<()> {
    let src = source.map(cpath).transpose()?;
    let tgt = cpath(target)?;
    let fs = fstype.map(|t| cstring(t.as_bytes())).transpose()?;
    let dat = data.map(|d| cstring(d.as_bytes())).transpose()?;
    let ptr = |c: &Option<std::ffi::CString>| c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
    // SAFETY: all pointers are NUL-terminated strings or null, valid for the call.
    cvt(unsafe { libc::mount(ptr(&src), tgt.as_ptr(), ptr(&fs), flags, ptr(&dat).cast()) })
        .map(drop)
}

/// `umount2(target, flags)`.
pub fn umount2(target: &Path, flags: libc::c_int) -> io::Result<()> {
    let c = cpath(target)?;
    // SAFETY: valid C string.
    cvt(unsafe { libc::umount2(c.as_ptr(), flags) }).map(drop)
}

/// `pivot_root(new_root, put_old)`.
pub fn pivot_root(new_root: &Path, put_old: &Path) -> io::Result<()> {
    let n = cpath(new_root)?;
    let o = cpath(put_old)?;
    // SAFETY: valid C strings.
    cvt_long(unsafe { libc::syscall(libc::SYS_pivot_root, n.as_ptr(), o.as_ptr()) }).map(drop)
}

fn owned(ret: libc::c_long) -> io::Result<OwnedFd> {
    let fd = cvt_long(ret)?;
    // SAFETY: the syscall returned a fresh fd.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// `open_tree(dir, path, flags)`: with `OPEN_TREE_CLONE` a detached copy of the mount (tree
/// with `recursive`) at `path`, ready to be attached elsewhere with [`move_mount`].
pub fn open_tree(
    dir: Option<BorrowedFd<'_>>,
    path: &Path,
    clone: bool,
    recursive: bool,
) -> io::Result<OwnedFd> {
    let c = cpath(path)?;
    let mut flags = libc::OPEN_TREE_CLOEXEC;
    if clone {
        flags |= libc::OPEN_TREE_CLONE;
    }
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    if path.as_os_str().is_empty() {
        flags |= libc::AT_EMPTY_PATH as libc::c_uint;
    }
    let dfd = dir.map_or(libc::AT_FDCWD, |d| d.as_raw_fd());
    // SAFETY: valid C string and flags; returns a new fd or -1.
    owned(unsafe { libc::syscall(libc::SYS_open_tree, dfd, c.as_ptr(), flags) })
}

/// Attaches the detached or attached mount `from` on top of what `to` points at.
pub fn move_mount(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> io::Result<()> {
    let flags = libc::MOVE_MOUNT_F_EMPTY_PATH | libc::MOVE_MOUNT_T_EMPTY_PATH;
    // SAFETY: both fds are valid; empty paths with the EMPTY_PATH flags name the fds.
    cvt_long(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from.as_raw_fd(),
            EMPTY.as_ptr(),
            to.as_raw_fd(),
            EMPTY.as_ptr(),
            flags,
        )
    })
    .map(drop)
}

/// What [`mount_setattr`] changes: attributes to set, to clear, and the propagation type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MountAttr {
    pub set: u64,
    pub clear: u64,
    /// `MS_SHARED`, `MS_SLAVE`, `MS_PRIVATE`, `MS_UNBINDABLE` or 0 to leave it.
    pub propagation: u64,
    /// A user namespace fd when `set` has `MOUNT_ATTR_IDMAP`.
    pub userns_fd: Option<RawFd>,
}

/// `mount_setattr(fd, "", AT_EMPTY_PATH [| AT_RECURSIVE], attr)`: changes only the named
/// attributes, leaving the others (and locked ones) as they are.
pub fn mount_setattr(fd: BorrowedFd<'_>, recursive: bool, attr: &MountAttr) -> io::Result<()> {
    let mut a = libc::mount_attr {
        attr_set: attr.set,
        attr_clr: attr.clear,
        propagation: attr.propagation,
        userns_fd: attr.userns_fd.map_or(0, |fd| fd as u64),
    };
    let mut flags = libc::AT_EMPTY_PATH;
    if recursive {
        flags |= libc::AT_RECURSIVE;
    }
    // SAFETY: `a` is a valid mount_attr whose size we pass.
    cvt_long(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            EMPTY.as_ptr(),
            flags,
            &mut a as *mut libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    })
    .map(drop)
}

/// A file system context from `fsopen`, configured key by key, then turned into a detached
/// mount by [`FsContext::mount`].
pub struct FsContext {
    fd: OwnedFd,
}

impl FsContext {
    /// `fsopen(fstype, FSOPEN_CLOEXEC)`.
    pub fn open(fstype: &str) -> io::Result<Self> {
        let c = cstring(fstype.as_bytes())?;
        // SAFETY: valid C string; returns a new fd or -1.
        let fd = owned(unsafe { libc::syscall(libc::SYS_fsopen, c.as_ptr(), 1u32) })?;
        Ok(Self { fd })
    }

    fn config(&self, cmd: u32, key: Option<&CStr>, value: Option<&CStr>) -> io::Result<()> {
        let k = key.map_or(std::ptr::null(), CStr::as_ptr);
        let v = value.map_or(std::ptr::null(), CStr::as_ptr);
        // SAFETY: key/value are NUL-terminated strings or null as the command requires.
        cvt_long(unsafe { libc::syscall(libc::SYS_fsconfig, self.fd.as_raw_fd(), cmd, k, v, 0) })
            .map(drop)
    }

    /// `key=value`, or the flag `key` when `value` is `None`.
    pub fn set(&self, key: &str, value: Option<&str>) -> io::Result<()> {
        let k = cstring(key.as_bytes())?;
        match value {
            Some(v) => {
                let v = cstring(v.as_bytes())?;
                self.config(libc::FSCONFIG_SET_STRING, Some(&k), Some(&v))
            }
            None => self.config(libc::FSCONFIG_SET_FLAG, Some(&k), None),
        }
    }

    /// Creates the superblock and returns a detached mount of it with `MOUNT_ATTR_*` flags.
    pub fn mount(&self, attrs: u64) -> io::Result<OwnedFd> {
        self.config(libc::FSCONFIG_CMD_CREATE, None, None)?;
        // SAFETY: valid context fd; returns a new fd or -1.
        owned(unsafe {
            libc::syscall(
                libc::SYS_fsmount,
                self.fd.as_raw_fd(),
                libc::FSMOUNT_CLOEXEC,
                attrs as libc::c_uint,
            )
        })
    }

    /// The kernel's own message for the last failure, if it left one in the context.
    pub fn kernel_message(&self) -> Option<String> {
        let mut buf = [0u8; 512];
        let n = crate::fs::read(self.fd_borrow(), &mut buf).ok()?;
        let text = String::from_utf8_lossy(&buf[..n]).trim_end().to_string();
        // Messages start with their level: "e " error, "w " warning, "i " info.
        let text = match text.split_once(' ') {
            Some(("e" | "w" | "i", rest)) => rest.to_string(),
            _ => text,
        };
        (n > 0).then_some(text)
    }

    fn fd_borrow(&self) -> BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.fd.as_fd()
    }
}
