//! Files the crate keeps: JSON documents replaced atomically, and claims, symlinks made with
//! `symlink(2)` (which fails when the name exists) whose target names their owner.

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: corrupt: {source}")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub(crate) fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, StateError> {
    match std::fs::read(path) {
        Ok(data) => serde_json::from_slice(&data)
            .map(Some)
            .map_err(|source| StateError::Corrupt {
                path: path.to_path_buf(),
                source,
            }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(path)(e)),
    }
}

fn temp_beside(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.tmp", std::process::id()));
    path.with_file_name(name)
}

fn write_temp<T: Serialize>(path: &Path, value: &T) -> Result<PathBuf, StateError> {
    let data = serde_json::to_vec_pretty(value).map_err(|source| StateError::Corrupt {
        path: path.to_path_buf(),
        source,
    })?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    let tmp = temp_beside(path);
    std::fs::write(&tmp, data).map_err(io_err(&tmp))?;
    Ok(tmp)
}

/// Replaces `path` with `value` (a temporary file renamed over it; no fsync: a crash loses
/// at most a record whose objects the next command finds by their own owner links).
pub(crate) fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), StateError> {
    let tmp = write_temp(path, value)?;
    std::fs::rename(&tmp, path).map_err(io_err(path))
}

/// Writes `value` to `path` unless it exists; false when it does.
pub(crate) fn write_json_new<T: Serialize>(path: &Path, value: &T) -> Result<bool, StateError> {
    let tmp = write_temp(path, value)?;
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(io_err(path)(e)),
    }
}

/// Removes a file; one already gone is no error.
pub(crate) fn remove_file(path: &Path) -> Result<(), StateError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err(path)(e)),
        _ => Ok(()),
    }
}

/// Names in `dir` ending in `suffix`, without it (none when `dir` is missing).
pub(crate) fn names_with_suffix(dir: &Path, suffix: &str) -> Result<Vec<String>, StateError> {
    Ok(entries(dir)?
        .into_iter()
        .filter_map(|n| n.strip_suffix(suffix).map(str::to_string))
        .collect())
}

/// Names in `dir` (none when it is missing).
pub(crate) fn entries(dir: &Path) -> Result<Vec<String>, StateError> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(dir)(e)),
    };
    Ok(rd
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .collect())
}

/// Claims `path` for `owner`: true if made, false if someone holds it.
pub(crate) fn claim(path: &Path, owner: &str) -> Result<bool, StateError> {
    match std::os::unix::fs::symlink(owner, path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(io_err(dir))?;
            }
            claim(path, owner)
        }
        Err(e) => Err(io_err(path)(e)),
    }
}

/// The owner of a claim; `None` when there is none.
pub(crate) fn claimant(path: &Path) -> Result<Option<String>, StateError> {
    match std::fs::read_link(path) {
        Ok(t) => Ok(Some(t.to_string_lossy().into_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(path)(e)),
    }
}

/// Drops `owner`'s claim on `path`; another owner's claim stays.
pub(crate) fn release(path: &Path, owner: &str) -> Result<(), StateError> {
    if claimant(path)?.as_deref() == Some(owner) {
        remove_file(path)?;
    }
    Ok(())
}

/// Claims `path` for `owner`, taking it over from a holder that is not `live`; returns the
/// holder when it stays someone else's.
pub(crate) fn claim_live(
    path: &Path,
    owner: &str,
    live: &dyn Fn(&str) -> bool,
) -> Result<Option<String>, StateError> {
    loop {
        if claim(path, owner)? {
            return Ok(None);
        }
        match claimant(path)? {
            // Released meanwhile: try again.
            None => continue,
            Some(h) if h == owner => return Ok(None),
            Some(h) if live(&h) || !take_over(path, &h, owner)? => return Ok(Some(h)),
            Some(_) => return Ok(None),
        }
    }
}

/// An exclusive lock on directory `dir`, held until the descriptor is dropped.
pub(crate) fn lock_dir(dir: &Path) -> Result<std::os::fd::OwnedFd, StateError> {
    let fd = berth_sys::fs::open(dir, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC, 0)
        .map_err(io_err(dir))?;
    berth_sys::fs::flock(std::os::fd::AsFd::as_fd(&fd), libc::LOCK_EX).map_err(io_err(dir))?;
    Ok(fd)
}

/// Takes over `path` from `stale`, an owner that is gone, under a lock on the claim's
/// directory so two takers cannot both win; false if the claim changed meanwhile.
pub(crate) fn take_over(path: &Path, stale: &str, owner: &str) -> Result<bool, StateError> {
    let _lock = lock_dir(path.parent().unwrap_or(Path::new(".")))?;
    if claimant(path)?.as_deref() != Some(stale) {
        return Ok(false);
    }
    remove_file(path)?;
    claim(path, owner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_have_one_owner() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("sub/10.0.0.2");
        assert!(claim(&p, "a").unwrap());
        assert!(!claim(&p, "b").unwrap());
        assert_eq!(claimant(&p).unwrap().as_deref(), Some("a"));
        release(&p, "b").unwrap();
        assert!(!take_over(&p, "b", "c").unwrap());
        assert!(take_over(&p, "a", "c").unwrap());
        release(&p, "c").unwrap();
        assert_eq!(claimant(&p).unwrap(), None);
    }

    #[test]
    fn json_new_and_replace() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("x.json");
        assert!(write_json_new(&p, &1).unwrap());
        assert!(!write_json_new(&p, &2).unwrap());
        write_json(&p, &3).unwrap();
        assert_eq!(read_json::<i32>(&p).unwrap(), Some(3));
        assert_eq!(names_with_suffix(tmp.path(), ".json").unwrap(), ["x"]);
        remove_file(&p).unwrap();
        remove_file(&p).unwrap();
        assert_eq!(read_json::<i32>(&p).unwrap(), None);
    }
}
