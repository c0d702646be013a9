//! Paths inside the container's root, resolved by the kernel with `RESOLVE_IN_ROOT`: `..` and
//! symlinks (absolute or relative) can never lead outside it, and what was resolved is held as
//! an fd, so it cannot be swapped between the check and the use.

use berth_sys::fs::{self as sysfs, Resolve};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

/// `path` relative to the root (`/a/b` → `a/b`, `/` → `.`).
pub fn relative(path: &Path) -> PathBuf {
    let rel: PathBuf = path
        .components()
        .filter(|c| !matches!(c, Component::RootDir))
        .collect();
    if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    }
}

/// Opens `path` inside `root` with `flags`, following symlinks within the root.
pub fn open(root: BorrowedFd<'_>, path: &Path, flags: libc::c_int) -> io::Result<OwnedFd> {
    if crate::protection::off("resolve-in-root") {
        // What a naive runtime does: a plain lookup, which follows symlinks out of the root.
        return sysfs::openat(Some(root), &relative(path), flags, 0);
    }
    sysfs::openat2(root, &relative(path), flags, 0, Resolve::InRoot)
}

/// `O_PATH` handle on `path` inside `root`; the last component is not followed when
/// `nofollow` (a symlink there is returned as itself).
pub fn handle(root: BorrowedFd<'_>, path: &Path, nofollow: bool) -> io::Result<OwnedFd> {
    let flags = libc::O_PATH | if nofollow { libc::O_NOFOLLOW } else { 0 };
    open(root, path, flags)
}

/// Creates every missing directory of `path` inside `root` (mode `mode`) and returns an
/// `O_PATH` handle on the last one. A dangling symlink on the way is an error, not followed
/// out.
pub fn mkdir_all(root: BorrowedFd<'_>, path: &Path, mode: libc::mode_t) -> io::Result<OwnedFd> {
    let dir = libc::O_PATH | libc::O_DIRECTORY;
    match open(root, path, dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        r => return r,
    }
    let mut cur = open(root, Path::new("."), dir)?;
    let mut prefix = PathBuf::new();
    for comp in relative(path).components() {
        prefix.push(comp);
        let Component::Normal(name) = comp else {
            cur = open(root, &prefix, dir)?;
            continue;
        };
        match open(root, &prefix, dir) {
            Ok(fd) => cur = fd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                match sysfs::mkdirat(cur.as_fd(), Path::new(name), mode) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(e),
                }
                cur = open(root, &prefix, dir).map_err(|e| {
                    if e.kind() == io::ErrorKind::NotFound {
                        io::Error::other(format!("{} is a dangling symlink", prefix.display()))
                    } else {
                        e
                    }
                })?;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(cur)
}

/// Creates `path` inside `root` as an empty regular file if nothing is there (parents too),
/// and returns an `O_PATH` handle on what is there now (following symlinks within the root).
pub fn ensure_file(root: BorrowedFd<'_>, path: &Path, mode: libc::mode_t) -> io::Result<OwnedFd> {
    match handle(root, path, false) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        r => return r,
    }
    let parent = path.parent().unwrap_or(Path::new("/"));
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::other("no file name"))?;
    let dir = mkdir_all(root, parent, 0o755)?;
    let dirfd = sysfs::reopen(dir.as_fd(), libc::O_RDONLY | libc::O_DIRECTORY)?;
    match sysfs::openat(
        Some(dirfd.as_fd()),
        Path::new(name),
        libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_WRONLY,
        mode,
    ) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
        // Created, or something appeared meanwhile: either way resolve what is there now.
        _ => {}
    }
    handle(root, path, false)
}

/// Like [`ensure_file`], but a dangling symlink at `path` is followed (inside the root, at
/// most 8 deep) and its target created, as runc and crun do for mount points: an image's
/// `/etc/resolv.conf` may point into a `/run` that is empty until the container starts.
pub fn ensure_file_via_links(
    root: BorrowedFd<'_>,
    path: &Path,
    mode: libc::mode_t,
) -> io::Result<OwnedFd> {
    let mut path = path.to_path_buf();
    for _ in 0..8 {
        match ensure_file(root, &path, mode) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let parent = path.parent().unwrap_or(Path::new("/")).to_path_buf();
                let name = path.file_name().ok_or(e)?.to_owned();
                let dir = handle(root, &parent, false)?;
                // Not a symlink: the original error stands.
                let target = sysfs::readlinkat(dir.as_fd(), Path::new(&name))?;
                // The kernel resolves `parent/../x` component by component, within the root.
                path = parent.join(target);
            }
            r => return r,
        }
    }
    Err(io::Error::from_raw_os_error(libc::ELOOP))
}

/// Parent directories resolved once and reused: creating many entries in one directory (the
/// nodes and links of `/dev`) costs one resolution, not one per entry.
pub struct Dirs<'a> {
    root: BorrowedFd<'a>,
    open: Vec<(PathBuf, OwnedFd)>,
}

impl<'a> Dirs<'a> {
    pub fn new(root: BorrowedFd<'a>) -> Self {
        Dirs {
            root,
            open: Vec::new(),
        }
    }

    /// The (created if missing) parent directory of `path` and its file name.
    pub fn parent_and_name(&mut self, path: &Path) -> io::Result<(BorrowedFd<'_>, PathBuf)> {
        let parent = path.parent().unwrap_or(Path::new("/")).to_path_buf();
        let name = path
            .file_name()
            .ok_or_else(|| io::Error::other("no file name"))?;
        let i = match self.open.iter().position(|(p, _)| *p == parent) {
            Some(i) => i,
            None => {
                let dir = mkdir_all(self.root, &parent, 0o755)?;
                let fd = sysfs::reopen(dir.as_fd(), libc::O_RDONLY | libc::O_DIRECTORY)?;
                self.open.push((parent, fd));
                self.open.len() - 1
            }
        };
        Ok((self.open[i].1.as_fd(), PathBuf::from(name)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn root_fd(p: &Path) -> OwnedFd {
        sysfs::open(p, libc::O_PATH | libc::O_DIRECTORY, 0).unwrap()
    }

    #[test]
    fn symlinks_cannot_leave_the_root() {
        let outside = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        symlink(outside.path(), root.path().join("abs")).unwrap();
        symlink("../../../../..", root.path().join("rel")).unwrap();
        let r = root_fd(root.path());
        // The absolute link names a path that does not exist inside the root: refused.
        assert!(mkdir_all(r.as_fd(), Path::new("/abs/x"), 0o755).is_err());
        let inside = root.path().join(outside.path().strip_prefix("/").unwrap());
        std::fs::create_dir_all(&inside).unwrap();
        mkdir_all(r.as_fd(), Path::new("/abs/x"), 0o755).unwrap();
        mkdir_all(r.as_fd(), Path::new("/rel/y"), 0o755).unwrap();
        // Both landed inside the root: the absolute link resolved under it, `..` clamped.
        assert!(root
            .path()
            .join(outside.path().strip_prefix("/").unwrap())
            .join("x")
            .is_dir());
        assert!(root.path().join("y").is_dir());
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    }

    #[test]
    fn ensure_file_creates_parents_and_keeps_existing() {
        let root = tempfile::tempdir().unwrap();
        let r = root_fd(root.path());
        ensure_file(r.as_fd(), Path::new("/a/b/c"), 0o644).unwrap();
        assert!(root.path().join("a/b/c").is_file());
        std::fs::write(root.path().join("a/b/c"), b"keep").unwrap();
        ensure_file(r.as_fd(), Path::new("/a/b/c"), 0o644).unwrap();
        assert_eq!(std::fs::read(root.path().join("a/b/c")).unwrap(), b"keep");
    }

    #[test]
    fn dangling_symlink_is_an_error() {
        let root = tempfile::tempdir().unwrap();
        symlink("/nowhere/deeper", root.path().join("d")).unwrap();
        let r = root_fd(root.path());
        let e = mkdir_all(r.as_fd(), Path::new("/d/x"), 0o755).unwrap_err();
        assert!(e.to_string().contains("dangling"), "{e}");
    }

    #[test]
    fn relative_paths() {
        assert_eq!(relative(Path::new("/")), PathBuf::from("."));
        assert_eq!(relative(Path::new("/a/b")), PathBuf::from("a/b"));
    }
}
