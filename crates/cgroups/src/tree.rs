//! Walking a cgroup and its descendants: listing their processes, removing them.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::fs;

/// How long removing a container's cgroups keeps retrying ones that still have (dying) tasks,
/// over all its hierarchies together.
pub(crate) const RMDIR_TIMEOUT: Duration = Duration::from_secs(5);

fn children(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("readdir", dir, e)),
    };
    let mut out = Vec::new();
    for e in entries {
        let e = e.map_err(|e| Error::io("readdir", dir, e))?;
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            out.push(e.path());
        }
    }
    Ok(out)
}

/// Every pid in `dir` and below.
pub(crate) fn pids(dir: &Path) -> Result<Vec<i32>> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let text = match std::fs::read_to_string(d.join("cgroup.procs")) {
            Ok(t) => t,
            // Removed while we walked: nothing in it any more.
            Err(e) if e.kind() == ErrorKind::NotFound => String::new(),
            Err(e) => return Err(Error::io("read", d.join("cgroup.procs"), e)),
        };
        out.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
        todo.extend(children(&d)?);
    }
    Ok(out)
}

/// Removes the cgroups below `dir`, leaving `dir` itself.
pub(crate) fn remove_below(dir: &Path, deadline: Instant) -> Result<()> {
    children(dir)?
        .iter()
        .try_for_each(|child| remove(child, deadline))
}

/// Removes `dir` and its descendants, deepest first. A cgroup whose last tasks are still
/// exiting answers EBUSY for a moment, so that is retried until `deadline`.
pub(crate) fn remove(dir: &Path, deadline: Instant) -> Result<()> {
    remove_below(dir, deadline)?;
    let mut busy = None;
    let left = deadline.saturating_duration_since(Instant::now());
    let waited = fs::wait_until("rmdir", dir, left, || match std::fs::remove_dir(dir) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
            busy = Some(e);
            Ok(false)
        }
        Err(e) => Err(Error::io("rmdir", dir, e)),
    });
    match (waited, busy) {
        (Err(Error::Timeout { .. }), Some(e)) => {
            let left = pids(dir).unwrap_or_default();
            Err(Error::Io {
                op: if left.is_empty() {
                    "rmdir"
                } else {
                    "rmdir (processes left in it)"
                },
                path: dir.to_path_buf(),
                source: e,
            })
        }
        (r, _) => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_and_remove_walk_the_tree() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("c");
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("cgroup.procs"), "1\n2\n").unwrap();
        std::fs::write(root.join("a/b/cgroup.procs"), "3\n").unwrap();
        let mut p = pids(&root).unwrap();
        p.sort();
        assert_eq!(p, [1, 2, 3]);
        // Real cgroup dirs hold only kernel files, which rmdir ignores; here, drop ours first.
        for f in ["cgroup.procs", "a/b/cgroup.procs"] {
            std::fs::remove_file(root.join(f)).unwrap();
        }
        remove(&root, Instant::now() + RMDIR_TIMEOUT).unwrap();
        assert!(!root.exists());
        remove(&root, Instant::now() + RMDIR_TIMEOUT).unwrap();
        assert!(pids(&root).unwrap().is_empty());
    }
}
