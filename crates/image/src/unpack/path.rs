//! Entry names → checked path components, and parent directories opened below the
//! snapshot root with `openat2(RESOLVE_BENEATH)` (or, for a copy into a container, inside
//! its root with `RESOLVE_IN_ROOT`).

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::sys::{self, Scope};

/// Why an entry name was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum BadName {
    /// Starts with `/`.
    Absolute,
    /// Has a `..` component.
    DotDot,
    /// Contains a NUL byte.
    Nul,
}

impl BadName {
    pub fn describe(&self) -> &'static str {
        match self {
            BadName::Absolute => "absolute path escapes the snapshot",
            BadName::DotDot => "'..' component escapes the snapshot",
            BadName::Nul => "NUL byte in name",
        }
    }
}

/// Splits a tar entry name into its components, dropping `.` and empty ones.
/// An empty result is the archive root itself (`./`).
pub fn components(name: &[u8]) -> Result<Vec<OsString>, BadName> {
    if name.starts_with(b"/") {
        return Err(BadName::Absolute);
    }
    if name.contains(&0) {
        return Err(BadName::Nul);
    }
    let mut out = Vec::new();
    for c in name.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => return Err(BadName::DotDot),
            c => out.push(OsStr::from_bytes(c).to_os_string()),
        }
    }
    Ok(out)
}

/// Joins components back into a relative path for openat2 and messages.
pub fn join(parts: &[OsString]) -> PathBuf {
    let mut p = PathBuf::new();
    for c in parts {
        p.push(c);
    }
    p
}

/// Opens parent directories below the root, creating missing ones (0755, as Docker does),
/// and remembers the last one: entries of a directory usually come together.
pub struct Dirs {
    root: OwnedFd,
    scope: Scope,
    last: Option<(PathBuf, Rc<OwnedFd>)>,
}

impl Dirs {
    pub fn new(root: OwnedFd, scope: Scope) -> Self {
        Dirs {
            root,
            scope,
            last: None,
        }
    }

    pub fn root(&self) -> BorrowedFd<'_> {
        self.root.as_fd()
    }

    /// Forgets the cached directory: something in the tree was removed or replaced.
    pub fn invalidate(&mut self) {
        self.last = None;
    }

    /// The existing directory `path` below the root, resolved in the root's scope.
    pub fn open_existing(&self, path: &Path) -> io::Result<OwnedFd> {
        // The root itself (a hard link to a file at the top of the archive); an empty
        // path names nothing to openat2.
        let path = match path.as_os_str().is_empty() {
            true => Path::new("."),
            false => path,
        };
        sys::open_scoped(
            self.root.as_fd(),
            path,
            libc::O_RDONLY | libc::O_DIRECTORY,
            0,
            self.scope,
        )
    }

    /// The directory `parts` below the root (a new fd), created if missing. Fails with
    /// EXDEV/ELOOP when a symlink on the way points out of the root (beneath it; inside
    /// it, symlinks resolve within the root), ENOTDIR when a component is a file.
    /// The fd is shared with the cache (no dup and close per entry).
    pub fn open(&mut self, parts: &[OsString]) -> io::Result<Rc<OwnedFd>> {
        let path = join(parts);
        if let Some((p, fd)) = &self.last {
            if *p == path {
                return Ok(Rc::clone(fd));
            }
        }
        let fd = Rc::new(self.open_or_create(&path, parts)?);
        self.last = Some((path, Rc::clone(&fd)));
        Ok(fd)
    }

    fn open_or_create(&self, path: &Path, parts: &[OsString]) -> io::Result<OwnedFd> {
        if parts.is_empty() {
            return self.root.try_clone();
        }
        match self.open_existing(path) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            r => return r,
        }
        // Walk from the root so every prefix is resolved beneath the root, not beneath
        // its parent (a relative symlink may legitimately climb to a sibling).
        let mut cur = self.root.try_clone()?;
        for i in 0..parts.len() {
            let prefix = join(&parts[..=i]);
            cur = match self.open_existing(&prefix) {
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                    match sys::mkdirat(cur.as_fd(), &parts[i], 0o755) {
                        Err(e) if e.raw_os_error() != Some(libc::EEXIST) => return Err(e),
                        _ => {}
                    }
                    self.open_existing(&prefix)?
                }
                r => r?,
            };
        }
        Ok(cur)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_checks_names() {
        assert_eq!(components(b"./a//b/./c/").unwrap(), ["a", "b", "c"]);
        assert!(components(b"./").unwrap().is_empty());
        assert_eq!(components(b"/etc/passwd"), Err(BadName::Absolute));
        assert_eq!(components(b"a/../../x"), Err(BadName::DotDot));
        assert_eq!(components(b"a/.."), Err(BadName::DotDot));
        assert_eq!(components(b"..."), Ok(vec![OsString::from("...")]));
    }
}
