//! The engine's containers on disk. `ROOT/containers/<id>/` holds `record.json` (what the
//! engine knows of the container, replaced atomically), the bundle's `config.json`, the
//! generated `/etc` files and the log. An exclusive `flock` on that directory serialises
//! changes to one container; it dies with its holder, so a killed command never leaves a
//! container locked.

use crate::options::Settings;
use crate::time::Timestamp;
use berth_sys::fs as sysfs;
use serde::{Deserialize, Serialize};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

const RECORD: &str = "record.json";

/// How long the exit status of a self-removed container is kept.
const REMOVED_KEPT: std::time::Duration = std::time::Duration::from_secs(600);

/// Errors about the containers directory and records.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: corrupt record: {source}")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> RecordError + '_ {
    move |source| RecordError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Where a container is in its life, as the engine recorded it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Root filesystem and bundle exist; nothing runs.
    Created,
    /// A process (a monitor, or a foreground `berth run`) attends the container.
    Running,
    /// It ended, and its monitor starts it again after a pause (`--restart`).
    Restarting,
    /// The container ended; `exit_code` says how, when known.
    Exited,
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            State::Created => "created",
            State::Running => "running",
            State::Restarting => "restarting",
            State::Exited => "exited",
        })
    }
}

/// A process named for good: its pid and its start time (a reused pid is someone else).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Owner {
    pub pid: i32,
    pub start_time: u64,
}

impl Owner {
    /// The calling process.
    pub fn current() -> io::Result<Owner> {
        let pid = berth_sys::process::getpid();
        let stat = berth_container::procfs::stat(pid)?
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ESRCH))?;
        Ok(Owner {
            pid,
            start_time: stat.start_time,
        })
    }

    /// Whether the process still runs (an unreaped zombie has ended).
    pub fn alive(&self) -> bool {
        berth_container::procfs::is_alive(self.pid, self.start_time).unwrap_or(false)
    }
}

/// What the engine keeps about one container.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// 64 hex digits.
    pub id: String,
    pub name: String,
    /// The image's name as the user gave it.
    pub image: String,
    /// The image ID (config digest).
    pub image_id: String,
    pub created: Timestamp,
    /// The container's argv (entrypoint and command).
    pub command: Vec<String>,
    pub state: State,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
    /// The health checks' results (with `--health-cmd` or the image's HEALTHCHECK).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<crate::health::Health>,
    /// How often its monitor started it again (`--restart`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub restart_count: u32,
    /// Stopped or killed through berth: a restart policy does not bring it back.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub manually_stopped: bool,
    /// Whether the kernel's OOM killer ended a process of the container in its last run.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub oom_killed: bool,
    /// The process attending the running container: its monitor, or a foreground `run`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor: Option<Owner>,
    /// Why the container failed to start or why its end was not recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The signal `stop` sends first (the image's StopSignal, else SIGTERM).
    pub stop_signal: String,
    /// The checked flags it was created with.
    pub settings: Settings,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Record {
    /// Why the container's last run ended, in plain words; `None` while it never ended.
    pub fn end_reason(&self) -> Option<String> {
        if self.state != State::Exited {
            return None;
        }
        if self.oom_killed {
            return Some(match self.settings.memory {
                Some(limit) => format!(
                    "killed by the kernel's OOM killer at its memory limit ({} MiB)",
                    limit >> 20
                ),
                None => {
                    "killed by the kernel's OOM killer (no memory limit: the host ran out)".into()
                }
            });
        }
        Some(match self.exit_code {
            None => self.error.clone().unwrap_or_else(|| "unknown".into()),
            Some(c) if c > 128 => match berth_sys::signal::name(c - 128) {
                Some(sig) => format!("killed by {sig}"),
                None => format!("killed by signal {}", c - 128),
            },
            Some(c) => format!("exited with status {c}"),
        })
    }
}

/// `ROOT/containers`.
#[derive(Clone, Debug)]
pub struct Containers {
    base: PathBuf,
}

/// A held `flock` on one container's directory.
#[derive(Debug)]
pub struct Lock {
    _fd: OwnedFd,
}

/// Whether `s` looks like a container id (64 lowercase hex digits).
pub fn is_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl Containers {
    pub fn new(root: &Path) -> Containers {
        Containers {
            base: root.join("containers"),
        }
    }

    pub fn base(&self) -> &Path {
        &self.base
    }

    /// Where the files that containers share are (`config::shared`).
    pub fn shared_dir(&self) -> PathBuf {
        self.base.join("shared")
    }

    /// The directory of container `id` (the OCI bundle).
    pub fn dir(&self, id: &str) -> PathBuf {
        self.base.join(id)
    }

    /// The log of a detached container.
    pub fn log_path(&self, id: &str) -> PathBuf {
        self.dir(id).join("container.log")
    }

    /// Ids of every container directory, sorted.
    pub fn ids(&self) -> Result<Vec<String>, RecordError> {
        let rd = match std::fs::read_dir(&self.base) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(&self.base)(e)),
        };
        let mut ids: Vec<String> = rd
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| is_id(n))
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// Creates the directory of a new container, locked; false if the id is taken.
    pub fn create_dir(&self, id: &str) -> Result<Option<Lock>, RecordError> {
        std::fs::create_dir_all(&self.base).map_err(io_err(&self.base))?;
        let dir = self.dir(id);
        match std::fs::create_dir(&dir) {
            Ok(()) => self.lock(id, true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(None),
            Err(e) => Err(io_err(&dir)(e)),
        }
    }

    /// Locks container `id`'s directory, waiting unless `wait` is false; `None` when the
    /// directory is gone or (without waiting) someone else holds it.
    pub fn lock(&self, id: &str, wait: bool) -> Result<Option<Lock>, RecordError> {
        let dir = self.dir(id);
        let fd = match sysfs::open(&dir, libc::O_RDONLY | libc::O_DIRECTORY, 0) {
            Ok(fd) => fd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(&dir)(e)),
        };
        let op = if wait {
            libc::LOCK_EX
        } else {
            libc::LOCK_EX | libc::LOCK_NB
        };
        match sysfs::flock(fd.as_fd(), op) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) => return Err(io_err(&dir)(e)),
        }
        // The holder before us may have removed the container.
        Ok(dir.exists().then_some(Lock { _fd: fd }))
    }

    /// Reads container `id`'s record; `None` when there is none (being created, or gone).
    pub fn load(&self, id: &str) -> Result<Option<Record>, RecordError> {
        let p = self.dir(id).join(RECORD);
        match std::fs::read(&p) {
            Ok(data) => serde_json::from_slice(&data)
                .map(Some)
                .map_err(|source| RecordError::Corrupt { path: p, source }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(&p)(e)),
        }
    }

    /// Where the exit statuses of containers that removed themselves (`--rm`) stay for a
    /// while, so that a `wait` or `stop` that watched one can still report it: a symlink
    /// `removed/<minute>/<id>` → the status, in a directory per minute of the Unix clock.
    /// Keeping one is one `symlink(2)`; the old ones go a minute's directory at a time, so
    /// no start ever looks at each status kept (a busy host keeps thousands).
    fn removed_dir(&self) -> PathBuf {
        self.base.join("removed")
    }

    /// Keeps the exit status of container `id`, which is about to remove itself; the
    /// minutes older than [`REMOVED_KEPT`] go at the same time.
    pub fn keep_removed_exit(&self, id: &str, code: i32) -> Result<(), RecordError> {
        let dir = self.removed_dir();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let minute = dir.join((now / 60).to_string());
        let link = minute.join(id);
        let code = code.to_string();
        match std::os::unix::fs::symlink(&code, &link) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // A new minute: its directory, and the old minutes gone.
                std::fs::create_dir_all(&minute).map_err(io_err(&minute))?;
                let oldest = (now.saturating_sub(REMOVED_KEPT.as_secs())) / 60;
                for e in std::fs::read_dir(&dir).map_err(io_err(&dir))?.flatten() {
                    let name = e.file_name();
                    match name.to_str().and_then(|n| n.parse::<u64>().ok()) {
                        Some(m) if m >= oldest => {}
                        // An old minute, or what an older berth kept (a file per status).
                        Some(_) => drop(std::fs::remove_dir_all(e.path())),
                        None => drop(std::fs::remove_file(e.path())),
                    }
                }
                std::os::unix::fs::symlink(&code, &link).map_err(io_err(&link))
            }
            other => other.map_err(io_err(&link)),
        }
    }

    /// The exit status kept by [`Containers::keep_removed_exit`].
    pub fn removed_exit(&self, id: &str) -> Option<i32> {
        let mut minutes: Vec<u64> = std::fs::read_dir(self.removed_dir())
            .ok()?
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .collect();
        minutes.sort_unstable_by(|a, b| b.cmp(a));
        minutes.into_iter().find_map(|m| {
            let link = self.removed_dir().join(m.to_string()).join(id);
            std::fs::read_link(link).ok()?.to_str()?.parse().ok()
        })
    }

    /// Replaces the record (temporary file, then rename).
    pub fn save(&self, r: &Record) -> Result<(), RecordError> {
        let p = self.dir(&r.id).join(RECORD);
        let data = serde_json::to_vec_pretty(r).map_err(|source| RecordError::Corrupt {
            path: p.clone(),
            source,
        })?;
        berth_container::state::write_atomic(&p, &data).map_err(io_err(&p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_64_hex() {
        assert!(is_id(&"a1".repeat(32)));
        assert!(!is_id(&"A1".repeat(32)));
        assert!(!is_id("abc"));
        assert!(!is_id("names"));
    }

    #[test]
    fn exits_of_removed_containers_are_kept_by_the_minute() {
        let tmp = tempfile::tempdir().unwrap();
        let c = Containers::new(tmp.path());
        let removed = c.base().join("removed");
        // What an older berth kept, and a minute long past.
        std::fs::create_dir_all(removed.join("1000")).unwrap();
        std::os::unix::fs::symlink("9", removed.join("1000/old")).unwrap();
        std::fs::write(removed.join("a".repeat(64)), "3").unwrap();
        c.keep_removed_exit("one", 0).unwrap();
        c.keep_removed_exit("two", -1).unwrap();
        assert_eq!(
            (c.removed_exit("one"), c.removed_exit("two")),
            (Some(0), Some(-1))
        );
        assert_eq!(c.removed_exit("three"), None);
        let left: Vec<_> = std::fs::read_dir(&removed).unwrap().flatten().collect();
        assert_eq!(left.len(), 1, "only this minute stays: {left:?}");
        assert_eq!(c.removed_exit("old"), None);
    }

    #[test]
    fn directories_lock_and_list() {
        let tmp = tempfile::tempdir().unwrap();
        let c = Containers::new(tmp.path());
        let id = "0f".repeat(32);
        let held = c.create_dir(&id).unwrap().unwrap();
        assert!(c.create_dir(&id).unwrap().is_none());
        assert!(c.lock(&id, false).unwrap().is_none());
        drop(held);
        assert!(c.lock(&id, false).unwrap().is_some());
        std::fs::create_dir(c.base().join("names")).unwrap();
        assert_eq!(c.ids().unwrap(), vec![id.clone()]);
        assert!(c.load(&id).unwrap().is_none());
        assert!(c.lock(&"1f".repeat(32), true).unwrap().is_none());
    }
}
