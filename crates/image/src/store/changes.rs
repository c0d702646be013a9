//! A container's changes against its image, as `docker diff` lists them, read from the
//! overlay upper directory: a whiteout (char 0:0) is a deletion, an entry the image's
//! layers have is a change, any other an addition. As in docker, a directory that is in the
//! upper directory only because something below it changed (same mode, owner and time as
//! the image's) is not listed for itself, but the parent of an addition or deletion is.
//! An empty mount point the runtime made is not a change either (docker keeps those in an
//! "init" layer of its own).
//!
//! The upper directory is the container's to write, so it is walked by fds, never
//! following a symlink.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use super::{io_err, Store, StoreError};
use crate::sys;
use crate::unpack::opaque_xattr;

/// What happened to a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// `A`: not in the image.
    Added,
    /// `C`: in the image, and changed.
    Changed,
    /// `D`: in the image, deleted.
    Deleted,
}

/// One line of `diff`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// What happened.
    pub kind: ChangeKind,
    /// The absolute path in the container.
    pub path: PathBuf,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let k = match self.kind {
            ChangeKind::Added => 'A',
            ChangeKind::Changed => 'C',
            ChangeKind::Deleted => 'D',
        };
        write!(f, "{k} {}", self.path.display())
    }
}

impl Store {
    /// Container `id`'s changes, in the order of a walk of its tree (names sorted); empty
    /// files and directories at `mount_points` (absolute paths) are left out.
    pub fn rootfs_changes(
        &self,
        id: &str,
        mount_points: &[PathBuf],
    ) -> Result<Vec<Change>, StoreError> {
        let upper = self.rootfs(id)?.upper;
        let lowers = self
            .rootfs_lowers(id)?
            .iter()
            .map(|p| {
                File::open(p)
                    .map(OwnedFd::from)
                    .map_err(io_err("open snapshot", p))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let root: OwnedFd = File::open(&upper).map_err(io_err("open", &upper))?.into();
        let mut walk = Walk {
            lowers,
            opaque_key: opaque_xattr(self.rootless),
            upper: &upper,
            mount_points,
            out: Vec::new(),
            changed_dirs: HashSet::new(),
        };
        walk.dir(root.as_fd(), &mut Vec::new(), false)?;
        Ok(walk.out)
    }
}

struct Walk<'a> {
    /// The image's layers, top first.
    lowers: Vec<OwnedFd>,
    opaque_key: &'static OsStr,
    upper: &'a Path,
    mount_points: &'a [PathBuf],
    out: Vec<Change>,
    /// Directories listed already, or known to be changed: no parent line for them.
    changed_dirs: HashSet<Vec<OsString>>,
}

impl Walk<'_> {
    /// Lists `dir` (at `parts` in the container); `hidden`: the image shows nothing here.
    fn dir(
        &mut self,
        dir: BorrowedFd<'_>,
        parts: &mut Vec<OsString>,
        hidden: bool,
    ) -> Result<(), StoreError> {
        let at = self.upper.join(join(parts));
        for name in sys::list_dir(dir).map_err(io_err("list", &at))? {
            let st = match sys::lstatat(dir, &name) {
                Ok(st) => st,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
                Err(e) => return Err(io_err("stat", &at.join(&name))(e)),
            };
            parts.push(name.clone());
            if self.empty_mount_point(dir, &name, parts, &at)? {
                parts.pop();
                continue;
            }
            let is_dir = st.st_mode & libc::S_IFMT == libc::S_IFDIR;
            if st.st_mode & libc::S_IFMT == libc::S_IFCHR && st.st_rdev == 0 {
                self.record(ChangeKind::Deleted, parts);
            } else {
                let below = if hidden { None } else { self.below(parts) };
                let same_dir = match below {
                    Some(b) if is_dir && same_directory(&b, &st) => true,
                    // Made only to hold mount points: making them changed its time.
                    Some(b) if is_dir && same_owner_mode(&b, &st) => {
                        self.only_mount_points(dir, &name, parts, &at)?
                    }
                    _ => false,
                };
                // A directory the image lacks, made by the runtime only to hold mount
                // points (`/run` for `/run/.containerenv`), is no change either.
                if below.is_none() && is_dir && self.only_mount_points(dir, &name, parts, &at)? {
                    parts.pop();
                    continue;
                }
                match below {
                    None => self.record(ChangeKind::Added, parts),
                    Some(_) if !same_dir => self.record(ChangeKind::Changed, parts),
                    Some(_) => {}
                }
                if is_dir {
                    let sub = sys::open_beneath(
                        dir,
                        Path::new(&name),
                        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
                        0,
                    )
                    .map_err(io_err("open", &at.join(&name)))?;
                    let opaque = sys::lgetxattrat(dir, &name, self.opaque_key)
                        .map_err(io_err("getxattr", &at.join(&name)))?
                        .is_some_and(|v| v == b"y");
                    let below_dir =
                        below.is_some_and(|b| b.st_mode & libc::S_IFMT == libc::S_IFDIR);
                    self.dir(sub.as_fd(), parts, hidden || opaque || !below_dir)?;
                }
            }
            parts.pop();
        }
        Ok(())
    }

    /// Whether the directory `name` in `dir` (at `parts`) holds empty mount points and nothing else.
    fn only_mount_points(
        &self,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        parts: &mut Vec<OsString>,
        at: &Path,
    ) -> Result<bool, StoreError> {
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW;
        let sub = sys::open_beneath(dir, Path::new(name), flags, 0)
            .map_err(io_err("open", &at.join(name)))?;
        let children = sys::list_dir(sub.as_fd()).map_err(io_err("list", &at.join(name)))?;
        // An empty directory holds no mount point: something else made or changed it.
        if children.is_empty() {
            return Ok(false);
        }
        for child in children {
            parts.push(child.clone());
            let point = self.empty_mount_point(sub.as_fd(), &child, parts, &at.join(name));
            parts.pop();
            if !point? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Whether `name` in `dir` (at `parts`) is an empty file or directory the runtime
    /// mounted something on.
    fn empty_mount_point(
        &self,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        parts: &[OsString],
        at: &Path,
    ) -> Result<bool, StoreError> {
        if !self.mount_points.contains(&absolute(parts)) {
            return Ok(false);
        }
        let path = at.join(name);
        let fd = sys::open_beneath(dir, Path::new(name), libc::O_PATH | libc::O_NOFOLLOW, 0)
            .map_err(io_err("open", &path))?;
        let st = sys::fstat(fd.as_fd()).map_err(io_err("stat", &path))?;
        sys::is_empty(fd.as_fd(), &st).map_err(io_err("list", &path))
    }

    fn record(&mut self, kind: ChangeKind, parts: &[OsString]) {
        if kind != ChangeKind::Changed {
            if let Some((_, parent)) = parts.split_last() {
                if !parent.is_empty() && self.changed_dirs.insert(parent.to_vec()) {
                    self.out.push(Change {
                        kind: ChangeKind::Changed,
                        path: absolute(parent),
                    });
                }
            }
        }
        self.changed_dirs.insert(parts.to_vec());
        self.out.push(Change {
            kind,
            path: absolute(parts),
        });
    }

    /// What the image's layers show at `parts`, as overlayfs stacks them: the first layer
    /// that has it, unless a whiteout, an opaque directory or a non-directory above hides it.
    fn below(&self, parts: &[OsString]) -> Option<libc::stat> {
        let (name, parents) = parts.split_last()?;
        for layer in &self.lowers {
            let mut dir = layer.try_clone().ok()?;
            let mut opaque = false;
            let mut missing = false;
            for p in parents {
                match sys::lstatat(dir.as_fd(), p) {
                    Ok(st) if is_whiteout(&st) => return None,
                    Ok(st) if st.st_mode & libc::S_IFMT != libc::S_IFDIR => return None,
                    Ok(_) => {}
                    Err(_) => {
                        missing = true;
                        break;
                    }
                }
                opaque |= sys::lgetxattrat(dir.as_fd(), p, self.opaque_key)
                    .ok()
                    .flatten()
                    .is_some_and(|v| v == b"y");
                let flags = libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW;
                dir = sys::open_beneath(dir.as_fd(), Path::new(p), flags, 0).ok()?;
            }
            if !missing {
                match sys::lstatat(dir.as_fd(), name) {
                    Ok(st) if is_whiteout(&st) => return None,
                    Ok(st) => return Some(st),
                    Err(_) => {}
                }
            }
            if opaque {
                return None;
            }
        }
        None
    }
}

fn is_whiteout(st: &libc::stat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFCHR && st.st_rdev == 0
}

/// docker's test for a directory that only holds changes: the same mode, owner and time.
fn same_directory(below: &libc::stat, upper: &libc::stat) -> bool {
    same_owner_mode(below, upper)
        && (below.st_mtime, below.st_mtime_nsec) == (upper.st_mtime, upper.st_mtime_nsec)
}

fn same_owner_mode(below: &libc::stat, upper: &libc::stat) -> bool {
    below.st_mode == upper.st_mode && (below.st_uid, below.st_gid) == (upper.st_uid, upper.st_gid)
}

fn join(parts: &[OsString]) -> PathBuf {
    parts.iter().collect()
}

fn absolute(parts: &[OsString]) -> PathBuf {
    let mut p = OsString::from("/");
    p.push(join(parts).as_os_str());
    PathBuf::from(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn lists_additions_changes_and_deletions() {
        if sys::rootless() {
            return; // whiteouts are device nodes
        }
        let t = tempfile::tempdir().unwrap();
        let (lower, upper) = (t.path().join("lower"), t.path().join("upper"));
        fs::create_dir_all(lower.join("etc/keep")).unwrap();
        fs::create_dir_all(lower.join("old")).unwrap();
        fs::write(lower.join("etc/passwd"), "a").unwrap();
        fs::write(lower.join("etc/motd"), "m").unwrap();
        fs::write(lower.join("old/f"), "x").unwrap();
        fs::create_dir_all(upper.join("etc/keep")).unwrap();
        // Made only to hold a mount point: no change. An empty new directory is one.
        fs::create_dir_all(upper.join("new/sub")).unwrap();
        fs::create_dir_all(upper.join("made")).unwrap();
        fs::create_dir_all(upper.join("old")).unwrap();
        fs::write(upper.join("etc/passwd"), "b").unwrap();
        fs::write(upper.join("old/f"), "y").unwrap();
        let etc = File::open(upper.join("etc")).unwrap();
        sys::mknodat(etc.as_fd(), OsStr::new("motd"), libc::S_IFCHR, 0).unwrap();
        // Directories copied up with the image's attributes, as overlayfs does.
        for d in ["etc", "etc/keep", "old"] {
            let m = fs::metadata(lower.join(d)).unwrap();
            let f = File::open(upper.join(d)).unwrap();
            f.set_times(fs::FileTimes::new().set_modified(m.modified().unwrap()))
                .unwrap();
        }
        let upper_fd: OwnedFd = File::open(&upper).unwrap().into();
        let mut w = Walk {
            lowers: vec![File::open(&lower).unwrap().into()],
            opaque_key: opaque_xattr(false),
            upper: &upper,
            mount_points: &[PathBuf::from("/new/sub")],
            out: Vec::new(),
            changed_dirs: HashSet::new(),
        };
        w.dir(upper_fd.as_fd(), &mut Vec::new(), false).unwrap();
        let lines: Vec<String> = w.out.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "C /etc",
                "D /etc/motd",
                "C /etc/passwd",
                "A /made",
                "C /old/f"
            ]
        );
        let names: Vec<&[u8]> = w
            .out
            .iter()
            .map(|c| c.path.as_os_str().as_bytes())
            .collect();
        assert!(!names.contains(&&b"/etc/keep"[..]));
    }
}
