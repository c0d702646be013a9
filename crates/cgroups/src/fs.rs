//! Reading and writing cgroup files. All file I/O of the crate goes through [`Dir`], so
//! every error names the file and the value, and unit tests can point it at a tempdir.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// One cgroup directory.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dir<'a>(pub &'a Path);

impl Dir<'_> {
    pub fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    pub fn has(&self, name: &str) -> bool {
        self.file(name).exists()
    }

    /// Writes `value` plus a newline in one write(2). The file is opened for appending, never
    /// created: cgroupfs treats every write as a command and ignores the offset, and a fake
    /// cgroupfs in a tempdir keeps the log of everything written, which the unit tests read.
    pub fn write(&self, resource: &'static str, name: &str, value: &str) -> Result<()> {
        let path = self.file(name);
        let mut file = match OpenOptions::new().append(true).open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(Error::Missing { resource, path })
            }
            Err(source) => {
                return Err(Error::Write {
                    resource,
                    path,
                    value: value.to_string(),
                    source,
                })
            }
        };
        let line = format!("{value}\n");
        file.write_all(line.as_bytes())
            .map_err(|source| Error::Write {
                resource,
                path,
                value: value.to_string(),
                source,
            })
    }

    /// Writes a pid to `cgroup.procs`. EINVAL can mean the task is still being created
    /// (TASK_NEW), so that is retried a few times.
    pub fn write_pid(&self, pid: i32) -> Result<()> {
        let mut tries = 0;
        loop {
            match self.write("cgroup.procs", "cgroup.procs", &pid.to_string()) {
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) && tries < 5 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(10));
                }
                other => return other,
            }
        }
    }

    pub fn read(&self, name: &str) -> Result<String> {
        let path = self.file(name);
        self.read_if_there(name)?
            .ok_or_else(|| Error::io("read", path, ErrorKind::NotFound.into()))
    }

    /// The file's text; `None` when this kernel or controller has no such file. Kernel files
    /// report no size: they are read into a page-sized buffer, without the stat and the
    /// growing small reads of `fs::read_to_string` (`stats` of many containers spends its
    /// time here).
    pub fn read_if_there(&self, name: &str) -> Result<Option<String>> {
        let path = self.file(name);
        let mut text = String::with_capacity(4096);
        let read =
            std::fs::File::open(&path).and_then(|f| f.take(u64::MAX).read_to_string(&mut text));
        match read {
            Ok(_) => Ok(Some(text)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("read", path, e)),
        }
    }

    /// Reads a single-number file; `max` (v2's "no limit") reads as `u64::MAX`.
    pub fn read_u64(&self, name: &str) -> Result<u64> {
        self.number(name, &self.read(name)?)
    }

    /// [`Dir::read_u64`] of a file this kernel or controller may lack.
    pub fn read_u64_if_there(&self, name: &str) -> Result<Option<u64>> {
        self.read_if_there(name)?
            .map(|text| self.number(name, &text))
            .transpose()
    }

    fn number(&self, name: &str, text: &str) -> Result<u64> {
        parse_u64(text.trim()).ok_or_else(|| Error::Parse {
            file: "cgroup file",
            reason: "not a number",
            line: format!("{}: {}", self.file(name).display(), text.trim()),
        })
    }

    /// Reads `key value` lines (memory.stat, cpu.stat, memory.events, ...).
    pub fn read_keyed(&self, name: &str) -> Result<Vec<(String, u64)>> {
        Ok(parse_keyed(&self.read(name)?))
    }
}

pub(crate) fn parse_u64(s: &str) -> Option<u64> {
    if s == "max" {
        Some(u64::MAX)
    } else {
        s.parse().ok()
    }
}

pub(crate) fn parse_keyed(text: &str) -> Vec<(String, u64)> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), parse_u64(v.trim())?))
        })
        .collect()
}

/// The value of `key` in `key value` lines, 0 when absent.
pub(crate) fn keyed(pairs: &[(String, u64)], key: &str) -> u64 {
    pairs.iter().find(|(k, _)| k == key).map_or(0, |(_, v)| *v)
}

/// Opens a cgroup directory as an fd (for bpf attach and clone3 CLONE_INTO_CGROUP; O_PATH
/// would not do for either).
pub(crate) fn open_dir(path: &Path) -> Result<OwnedFd> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(path)
        .map(OwnedFd::from)
        .map_err(|e| Error::io("open", path, e))
}

/// Polls `done` with a short, growing sleep until it holds or `timeout` passes.
pub(crate) fn wait_until(
    op: &'static str,
    path: &Path,
    timeout: Duration,
    mut done: impl FnMut() -> Result<bool>,
) -> Result<()> {
    let start = Instant::now();
    let mut nap = Duration::from_micros(500);
    loop {
        if done()? {
            return Ok(());
        }
        if start.elapsed() >= timeout {
            return Err(Error::Timeout {
                op,
                path: path.to_path_buf(),
                waited: start.elapsed(),
            });
        }
        std::thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(20));
    }
}

/// Creates `dir` and any missing parents below `base`, returning the directories it made,
/// top first, so a failed create can remove exactly those.
pub(crate) fn mkdir_below(base: &Path, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut made = Vec::new();
    let rel = dir.strip_prefix(base).unwrap_or(dir);
    let mut cur = base.to_path_buf();
    for part in rel.components() {
        cur.push(part);
        match std::fs::create_dir(&cur) {
            Ok(()) => made.push(cur.clone()),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => {
                remove_made(&made);
                return Err(Error::io("mkdir", cur, e));
            }
        }
    }
    Ok(made)
}

/// Best-effort removal of directories [`mkdir_below`] made, deepest first.
pub(crate) fn remove_made(made: &[PathBuf]) {
    for d in made.iter().rev() {
        // Cleanup after an earlier error: that error is the one reported.
        let _ = std::fs::remove_dir(d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_whole_files_and_tells_a_missing_one() {
        let t = tempfile::tempdir().unwrap();
        let d = Dir(t.path());
        let big: String = (0..2000).map(|i| format!("key{i} {i}\n")).collect();
        std::fs::write(t.path().join("memory.stat"), &big).unwrap();
        std::fs::write(t.path().join("pids.current"), "7\n").unwrap();
        assert_eq!(d.read_if_there("memory.stat").unwrap().unwrap(), big);
        assert_eq!(d.read_keyed("memory.stat").unwrap().len(), 2000);
        assert_eq!(d.read_u64_if_there("pids.current").unwrap(), Some(7));
        assert_eq!(d.read_u64_if_there("pids.max").unwrap(), None);
        assert!(d
            .read("pids.max")
            .unwrap_err()
            .to_string()
            .contains("pids.max"));
    }

    #[test]
    fn write_appends_and_missing_file_is_named() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("pids.max"), "").unwrap();
        let d = Dir(t.path());
        d.write("pids", "pids.max", "10").unwrap();
        d.write("pids", "pids.max", "max").unwrap();
        assert_eq!(d.read("pids.max").unwrap(), "10\nmax\n");
        let e = d.write("memory.limit", "memory.max", "5").unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("memory.limit: "), "{msg}");
        assert!(msg.contains("memory.max does not exist"), "{msg}");
    }

    #[test]
    fn numbers_and_keyed_files() {
        assert_eq!(parse_u64("max"), Some(u64::MAX));
        assert_eq!(parse_u64("12"), Some(12));
        assert_eq!(parse_u64("x"), None);
        let kv = parse_keyed("oom 1\noom_kill 2\nbad\n");
        assert_eq!(keyed(&kv, "oom_kill"), 2);
        assert_eq!(keyed(&kv, "nope"), 0);
    }

    #[test]
    fn mkdir_below_reports_what_it_made() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("a")).unwrap();
        let made = mkdir_below(t.path(), &t.path().join("a/b/c")).unwrap();
        assert_eq!(made, vec![t.path().join("a/b"), t.path().join("a/b/c")]);
        remove_made(&made);
        assert!(!t.path().join("a/b").exists());
        assert!(t.path().join("a").exists());
    }
}
