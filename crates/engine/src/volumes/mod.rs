//! Volumes of the `local` driver, kept as docker keeps them: `ROOT/volumes/<name>/` holds
//! `_data` (what containers mount) and `volume.json` (driver, options, labels, creation
//! time). `volume.json` is written atomically and last, so a directory without it is no
//! volume (what a killed creation left; the next creation of that name reuses it). An
//! exclusive `flock` on the directory serialises whatever makes, mounts, fills, unmounts or
//! removes the volume. Whether a volume is in use is never stored: it is read from the
//! container records (see [`lifecycle`]), so a killed command cannot leave a count wrong.

mod copy;
pub(crate) mod lifecycle;
pub(crate) mod local;

pub(crate) use copy::copy_up;

use crate::names;
use crate::time::Timestamp;
use berth_sys::fs as sysfs;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The label docker (23 and later) puts on the volumes containers make for themselves;
/// `volume prune` without `--all` removes only these.
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

/// The only driver: volumes are directories under the root, or mounts made on them.
pub const DRIVER: &str = "local";

const META: &str = "volume.json";
const DATA: &str = "_data";
/// A volume being removed is renamed to this prefix first: it is gone at once, and what a
/// killed removal left is swept later ([`Volumes::sweep`]).
const REMOVING: &str = ".rm-";

/// Errors about volumes.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error("no such volume: {0}")]
    NotFound(String),
    #[error("volume {name} is in use by container {containers}")]
    InUse { name: String, containers: String },
    #[error(
        "invalid volume name {0:?}: use two or more letters, digits, '_', '.', '-', starting \
         with a letter or digit (to bind a host directory, give an absolute path)"
    )]
    BadName(String),
    #[error("volume driver {0:?} is not supported: only local")]
    Driver(String),
    #[error("volume option {option:?}: {reason}")]
    BadOption { option: String, reason: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: corrupt volume metadata: {source}")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("volume {name}: mount {device} ({fs_type}): {reason}")]
    Mount {
        name: String,
        device: String,
        fs_type: String,
        reason: String,
    },
    #[error("volume {name}: copy {path} of the image into it: {reason}")]
    CopyUp {
        name: String,
        path: String,
        reason: String,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> VolumeError + '_ {
    move |source| VolumeError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// How a volume is made: its labels and the local driver's options.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeSpec {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// `type`, `device`, `o` (see [`local`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
}

impl VolumeSpec {
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.options.is_empty()
    }
}

/// What `volume.json` holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    pub name: String,
    pub driver: String,
    pub created: Timestamp,
    #[serde(flatten)]
    pub spec: VolumeSpec,
}

impl Volume {
    /// Made by a container for itself (`-v /path`, an image's VOLUME).
    pub fn anonymous(&self) -> bool {
        self.spec.labels.contains_key(ANONYMOUS_LABEL)
    }

    /// Its `_data` is a mount (tmpfs, a bind, a device) made while containers use it.
    pub fn mounted_on_use(&self) -> bool {
        !self.spec.options.is_empty()
    }
}

/// Whether `name` may name a volume: docker's rule, two characters at least.
pub fn valid_name(name: &str) -> bool {
    name.len() >= 2 && names::follows_rule(name)
}

/// `ROOT/volumes`.
#[derive(Clone, Debug)]
pub struct Volumes {
    base: PathBuf,
}

/// A held `flock` on one volume's directory.
#[derive(Debug)]
pub struct VolumeLock {
    _fd: OwnedFd,
    name: String,
}

impl VolumeLock {
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Volumes {
    pub fn new(root: &Path) -> Volumes {
        Volumes {
            base: root.join("volumes"),
        }
    }

    pub fn base(&self) -> &Path {
        &self.base
    }

    /// Where containers mount volume `name` (docker's `Mountpoint`).
    pub fn data(&self, name: &str) -> PathBuf {
        data_path(&self.base, name)
    }

    fn dir(&self, name: &str) -> Result<PathBuf, VolumeError> {
        if !valid_name(name) {
            return Err(VolumeError::BadName(name.to_string()));
        }
        Ok(self.base.join(name))
    }

    /// Names of every volume directory, sorted (a directory without metadata among them).
    pub fn names(&self) -> Result<Vec<String>, VolumeError> {
        let rd = match std::fs::read_dir(&self.base) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(&self.base)(e)),
        };
        let mut names: Vec<String> = rd
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| valid_name(n))
            .collect();
        names.sort();
        Ok(names)
    }

    /// Volume `name`'s metadata; `None` when there is no such volume.
    pub fn load(&self, name: &str) -> Result<Option<Volume>, VolumeError> {
        let p = self.dir(name)?.join(META);
        match std::fs::read(&p) {
            Ok(data) => serde_json::from_slice(&data)
                .map(Some)
                .map_err(|source| VolumeError::Corrupt { path: p, source }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(&p)(e)),
        }
    }

    /// Locks volume `name`'s directory, waiting for its holder; with `create`, the directory
    /// is made if missing, else `None` when it does not exist.
    pub fn lock(&self, name: &str, create: bool) -> Result<Option<VolumeLock>, VolumeError> {
        let dir = self.dir(name)?;
        // A remover renames the directory away under the lock: a waiter then holds a lock on
        // a directory that is no longer the volume's, and tries again.
        for _ in 0..10 {
            if create {
                std::fs::create_dir_all(&self.base).map_err(io_err(&self.base))?;
                match std::fs::create_dir(&dir) {
                    Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
                        return Err(io_err(&dir)(e))
                    }
                    _ => {}
                }
            }
            let fd = match sysfs::open(&dir, libc::O_RDONLY | libc::O_DIRECTORY, 0) {
                Ok(fd) => fd,
                Err(e) if e.kind() == io::ErrorKind::NotFound && !create => return Ok(None),
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err(&dir)(e)),
            };
            sysfs::flock(fd.as_fd(), libc::LOCK_EX).map_err(io_err(&dir))?;
            let held = sysfs::fstat(fd.as_fd()).map_err(io_err(&dir))?;
            match std::fs::metadata(&dir) {
                Ok(m) if m.ino() == held.st_ino && m.dev() == held.st_dev => {
                    return Ok(Some(VolumeLock {
                        _fd: fd,
                        name: name.to_string(),
                    }))
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(&dir)(e)),
            }
        }
        Err(io_err(&dir)(io::Error::other(
            "removed and made again while waiting for its lock",
        )))
    }

    /// The volume `lock` holds, made with `spec` if it does not exist yet; true if made now.
    pub fn ensure(
        &self,
        lock: &VolumeLock,
        spec: &VolumeSpec,
    ) -> Result<(Volume, bool), VolumeError> {
        if let Some(v) = self.load(&lock.name)? {
            return Ok((v, false));
        }
        let dir = self.dir(&lock.name)?;
        let v = Volume {
            name: lock.name.clone(),
            driver: DRIVER.into(),
            created: Timestamp::now(),
            spec: spec.clone(),
        };
        let data = dir.join(DATA);
        let meta = dir.join(META);
        let made = match std::fs::create_dir(&data) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(io_err(&data)(e)),
            _ => serde_json::to_vec_pretty(&v)
                .map_err(|source| VolumeError::Corrupt {
                    path: meta.clone(),
                    source,
                })
                .and_then(|bytes| {
                    berth_container::state::write_atomic(&meta, &bytes).map_err(io_err(&meta))
                }),
        };
        if made.is_err() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        made.map(|()| (v, true))
    }

    /// Removes the volume `lock` holds: what is mounted on its `_data` is unmounted first,
    /// so that nothing is deleted through a mount.
    pub fn remove(&self, lock: VolumeLock) -> Result<(), VolumeError> {
        let dir = self.dir(&lock.name)?;
        local::unmount(&dir.join(DATA))?;
        let trash = self.base.join(format!(
            "{REMOVING}{}.{}.{}",
            lock.name,
            std::process::id(),
            Timestamp::now()
        ));
        std::fs::rename(&dir, &trash).map_err(io_err(&dir))?;
        drop(lock);
        std::fs::remove_dir_all(&trash).map_err(io_err(&trash))
    }

    /// Deletes what removals that were killed left.
    pub fn sweep(&self) {
        let Ok(rd) = std::fs::read_dir(&self.base) else {
            return;
        };
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().starts_with(REMOVING) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

/// `BASE/<name>/_data`.
pub(crate) fn data_path(base: &Path, name: &str) -> PathBuf {
    base.join(name).join(DATA)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_dockers() {
        for good in ["db", "my-vol_1.x", &"ab".repeat(32)] {
            assert!(valid_name(good), "{good}");
        }
        for bad in ["", "a", "-x", ".rm-x", "a/b", "a b", "..", "_x"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn made_locked_listed_and_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let v = Volumes::new(tmp.path());
        assert!(v.lock("db", false).unwrap().is_none());
        assert!(matches!(v.lock("../x", true), Err(VolumeError::BadName(_))));
        let lock = v.lock("db", true).unwrap().unwrap();
        // A directory without metadata is no volume yet.
        assert!(v.load("db").unwrap().is_none());
        let spec = VolumeSpec {
            labels: [(ANONYMOUS_LABEL.to_string(), String::new())].into(),
            ..Default::default()
        };
        let (made, new) = v.ensure(&lock, &spec).unwrap();
        assert!(new && made.anonymous() && !made.mounted_on_use());
        let (again, new) = v.ensure(&lock, &VolumeSpec::default()).unwrap();
        assert!(!new && again.anonymous());
        assert!(v.data("db").is_dir());
        assert_eq!(v.names().unwrap(), ["db"]);
        std::fs::write(v.data("db").join("f"), "x").unwrap();
        v.remove(lock).unwrap();
        assert!(v.load("db").unwrap().is_none());
        assert!(v.names().unwrap().is_empty());
        assert_eq!(std::fs::read_dir(v.base()).unwrap().count(), 0);
        std::fs::create_dir(v.base().join(".rm-db.1.2")).unwrap();
        v.sweep();
        assert_eq!(std::fs::read_dir(v.base()).unwrap().count(), 0);
    }
}
