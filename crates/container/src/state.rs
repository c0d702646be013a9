//! Containers on disk: one directory per container under the runtime's `--root`, holding
//! `status` (written atomically, once the init is ready; crun's name, as is its
//! `external_descriptors` field, so that tools reading crun's state read ours) and, until
//! `start`, `exec.fifo`.
//! The directory is created with `mkdir`, so two `create`s of one id cannot both win, and it is
//! the lock (`flock`) that serialises commands on one container.

use crate::procfs;
use berth_sys::fs as sysfs;
use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

const STATE_FILE: &str = "status";
/// The cgroup of a container still being created, for cleaning up after a `create` that died.
const CREATING_FILE: &str = "creating.json";
pub(crate) const FIFO: &str = "exec.fifo";

/// Errors about the state directory and state files.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("container id {0:?} is invalid: use letters, digits, '_', '-', '+' and '.', 1-1024 characters")]
    InvalidId(String),
    #[error("container {0} already exists")]
    Exists(String),
    #[error("container {0} does not exist")]
    NotFound(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: corrupt state: {source}")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Status of a container, as the runtime-spec names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// The part of a saved state that a look at a container needs (`list`, a status, stats):
/// reading only it skips the config, whose parse costs more than the look itself.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Glance {
    pub pid: i32,
    pub start_time: u64,
    #[serde(default)]
    pub cgroup: Option<berth_cgroups::Manager>,
}

/// What tells a saved container's status: its init and its cgroup.
pub trait Live {
    fn init(&self) -> (i32, u64);
    fn cgroup(&self) -> Option<&berth_cgroups::Manager>;
}

impl Live for Glance {
    fn init(&self) -> (i32, u64) {
        (self.pid, self.start_time)
    }
    fn cgroup(&self) -> Option<&berth_cgroups::Manager> {
        self.cgroup.as_ref()
    }
}

impl Live for Saved {
    fn init(&self) -> (i32, u64) {
        (self.pid, self.start_time)
    }
    fn cgroup(&self) -> Option<&berth_cgroups::Manager> {
        self.cgroup.as_ref()
    }
}

/// What `status` holds: enough to act on the container from a later process.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Saved {
    pub id: String,
    pub bundle: PathBuf,
    /// Pid of the container's init in the runtime's pid namespace.
    pub pid: i32,
    /// The init's start time (`/proc/PID/stat` field 22): a reused pid is not our init.
    pub start_time: u64,
    pub created: String,
    pub owner: u32,
    pub rootless: bool,
    /// The config the container was created with: hooks, namespaces and the process for
    /// `exec` come from here, not from a bundle that may have changed since.
    pub config: Spec,
    /// The container's cgroup, when it has one of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<berth_cgroups::Manager>,
    /// What the init's stdin, stdout and stderr were at create (`/dev/null`, `pipe:[N]`, a
    /// pty...), as a JSON list inside a string: runc's and crun's record of the same, in
    /// crun's form. Checkpoint/restore needs it to reconnect them.
    #[serde(
        default,
        rename = "external_descriptors",
        skip_serializing_if = "String::is_empty"
    )]
    pub external_descriptors: String,
}

impl Saved {
    pub fn annotations(&self) -> HashMap<String, String> {
        self.config.annotations().clone().unwrap_or_default()
    }
}

/// The runtime's state root (`--root`).
#[derive(Clone, Debug)]
pub struct Root {
    path: PathBuf,
}

/// Checks a container id the way runc does: no path tricks, nothing a shell would split.
pub fn validate_id(id: &str) -> Result<(), StateError> {
    let ok = !id.is_empty()
        && id.len() <= 1024
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-+.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(StateError::InvalidId(id.to_string()))
    }
}

impl Root {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn dir(&self, id: &str) -> PathBuf {
        self.path.join(id)
    }

    /// Creates the directory of a new container and locks it; fails if the id is taken.
    pub fn create(&self, id: &str) -> Result<ContainerDir, StateError> {
        validate_id(id)?;
        std::fs::create_dir_all(&self.path).map_err(io_err(&self.path))?;
        let dir = self.dir(id);
        match std::fs::DirBuilder::new().mode_0711().create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(StateError::Exists(id.to_string()))
            }
            Err(e) => return Err(io_err(&dir)(e)),
        }
        ContainerDir::open_dir(id, dir, true)
    }

    /// Opens an existing container's directory, locked against other commands.
    pub fn open(&self, id: &str) -> Result<ContainerDir, StateError> {
        validate_id(id)?;
        ContainerDir::open_dir(id, self.dir(id), true)
    }

    /// Opens an existing container's directory to read it, without waiting for the lock.
    pub fn peek(&self, id: &str) -> Result<ContainerDir, StateError> {
        validate_id(id)?;
        ContainerDir::open_dir(id, self.dir(id), false)
    }

    /// The ids of all containers under this root, sorted.
    pub fn ids(&self) -> Result<Vec<String>, StateError> {
        let rd = match std::fs::read_dir(&self.path) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(&self.path)(e)),
        };
        let mut ids: Vec<String> = rd
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|id| validate_id(id).is_ok())
            .collect();
        ids.sort();
        Ok(ids)
    }
}

trait DirBuilderExt {
    fn mode_0711(&mut self) -> &mut Self;
}

impl DirBuilderExt for std::fs::DirBuilder {
    fn mode_0711(&mut self) -> &mut Self {
        use std::os::unix::fs::DirBuilderExt as _;
        self.mode(0o711)
    }
}

/// One container's directory, held under an exclusive `flock` while this value lives (unless
/// opened with [`Root::peek`]).
#[derive(Debug)]
pub struct ContainerDir {
    id: String,
    path: PathBuf,
    lock: OwnedFd,
}

impl ContainerDir {
    fn open_dir(id: &str, path: PathBuf, lock: bool) -> Result<Self, StateError> {
        let fd = match sysfs::open(&path, libc::O_RDONLY | libc::O_DIRECTORY, 0) {
            Ok(fd) => fd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StateError::NotFound(id.to_string()))
            }
            Err(e) => return Err(io_err(&path)(e)),
        };
        if lock {
            sysfs::flock(fd.as_fd(), libc::LOCK_EX).map_err(io_err(&path))?;
        }
        Ok(Self {
            id: id.to_string(),
            path,
            lock: fd,
        })
    }

    /// The fd carrying the lock: a forked child must close its copy (closing, unlike
    /// `LOCK_UN`, leaves the parent's lock in place), or it would hold the lock until exec.
    pub fn lock_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        self.lock.as_raw_fd()
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn fifo_path(&self) -> PathBuf {
        self.path.join(FIFO)
    }

    /// Reads `status`; `Ok(None)` while the container is still being created.
    pub fn load(&self) -> Result<Option<Saved>, StateError> {
        self.read_json(STATE_FILE)
    }

    /// The saved state's [`Glance`]; `Ok(None)` before there is one.
    pub fn glance(&self) -> Result<Option<Glance>, StateError> {
        self.read_json(STATE_FILE)
    }

    /// Reads the JSON file `name` of this directory; `Ok(None)` when it does not exist.
    fn read_json<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<Option<T>, StateError> {
        let p = self.path.join(name);
        match std::fs::read(&p) {
            Ok(data) => serde_json::from_slice(&data)
                .map(Some)
                .map_err(|source| StateError::Corrupt { path: p, source }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(&p)(e)),
        }
    }

    /// Writes `status` atomically (temporary file, then rename).
    pub fn save(&self, saved: &Saved) -> Result<(), StateError> {
        let data = serde_json::to_vec(saved).map_err(|source| StateError::Corrupt {
            path: self.path.join(STATE_FILE),
            source,
        })?;
        write_atomic(&self.path.join(STATE_FILE), &data).map_err(io_err(&self.path))
    }

    /// Records the cgroup of a container being created.
    pub fn save_creating(&self, cgroup: &berth_cgroups::Manager) -> Result<(), StateError> {
        let path = self.path.join(CREATING_FILE);
        let data = serde_json::to_vec(cgroup).map_err(|source| StateError::Corrupt {
            path: path.clone(),
            source,
        })?;
        write_atomic(&path, &data).map_err(io_err(&self.path))
    }

    /// The cgroup recorded by [`ContainerDir::save_creating`], if any.
    pub fn load_creating(&self) -> Result<Option<berth_cgroups::Manager>, StateError> {
        self.read_json(CREATING_FILE)
    }

    /// The status of the container described by `saved`, looking at the live system.
    pub fn status(&self, saved: Option<&impl Live>) -> Result<Status, StateError> {
        let Some(s) = saved else {
            return Ok(Status::Creating);
        };
        let (pid, start_time) = s.init();
        let alive = procfs::is_alive(pid, start_time).map_err(io_err(&self.path))?;
        if !alive {
            return Ok(Status::Stopped);
        }
        if self.fifo_path().exists() {
            return Ok(Status::Created);
        }
        let frozen = s.cgroup().and_then(|c| c.freezer_state().ok());
        if frozen == Some(berth_cgroups::FreezerState::Frozen) {
            return Ok(Status::Paused);
        }
        Ok(Status::Running)
    }

    /// Removes the directory and everything in it.
    pub fn remove(self) -> Result<(), StateError> {
        match std::fs::remove_dir_all(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(&self.path)(e)),
        }
    }
}

/// Writes `data` to `path` through a temporary file in the same directory and a rename, so a
/// reader sees the old or the new contents, never a half-written file.
pub fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    write_new(path, data, None)
}

/// [`write_atomic`] with `mode` (whatever the umask): for a file other processes mount or
/// run as it is.
pub fn write_atomic_mode(path: &Path, data: &[u8], mode: u32) -> io::Result<()> {
    write_new(path, data, Some(mode))
}

fn write_new(path: &Path, data: &[u8], mode: Option<u32>) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Unique per call: threads of one process (a build's parallel stages) write the same
    // file at once.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
        if let Some(m) = mode {
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(std::fs::Permissions::from_mode(m))?;
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked() {
        for good in ["a", "abc-1_2+3.4", "X"] {
            validate_id(good).unwrap();
        }
        for bad in ["", ".", "..", "a/b", "a b", "../x", "é"] {
            assert!(validate_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn create_is_exclusive_and_listed() {
        let tmp = tempfile::tempdir().unwrap();
        let root = Root::new(tmp.path().join("state"));
        let dir = root.create("one").unwrap();
        assert!(matches!(root.create("one"), Err(StateError::Exists(_))));
        assert_eq!(root.ids().unwrap(), vec!["one".to_string()]);
        assert!(dir.load().unwrap().is_none());
        assert_eq!(dir.status(None::<&Saved>).unwrap(), Status::Creating);
        dir.remove().unwrap();
        assert!(root.ids().unwrap().is_empty());
        assert!(matches!(root.open("one"), Err(StateError::NotFound(_))));
    }

    #[test]
    fn atomic_write_replaces() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("f");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
    }
}
