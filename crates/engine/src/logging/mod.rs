//! Where a container's output goes: `--log-driver` and `--log-opt`, as docker names them.
//!
//! * `json-file` (the default, as in docker): one JSON object a line,
//!   `{"log":"text\n","stream":"stdout","time":"...Z"}`, docker's own format;
//! * `k8s-file` (podman's default): `TIME STREAM F|P text` lines, CRI's format;
//! * `journald`: the host's journal, where there is one;
//! * `none`: no log (`logs` refuses), the output goes where the container's stdio points;
//! * `passthrough`: a foreground run's output goes straight to the caller, unlogged.
//!
//! For the file and journal drivers the container writes into pipes, and the process that
//! attends it (its monitor, or `berth run` in the foreground) moves the output into the log,
//! and in the foreground to the caller's stdout and stderr too: stdout and stderr stay
//! apart, each line gets its time, and `max-size`/`max-file` bound the disk a log takes.

mod file;
mod journald;
mod read;

pub use berth_container::run::Stream;
pub use read::{Entry, LogReader};

use crate::options::{bad, OptionsError};
use serde::{Deserialize, Serialize};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

/// The log drivers berth has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Driver {
    #[default]
    JsonFile,
    K8sFile,
    Journald,
    None,
    Passthrough,
}

impl Driver {
    pub fn name(self) -> &'static str {
        match self {
            Driver::JsonFile => "json-file",
            Driver::K8sFile => "k8s-file",
            Driver::Journald => "journald",
            Driver::None => "none",
            Driver::Passthrough => "passthrough",
        }
    }

    /// Whether output goes through the attending process.
    pub(crate) fn collects(self) -> bool {
        matches!(self, Driver::JsonFile | Driver::K8sFile | Driver::Journald)
    }
}

/// A container's logging, as checked from its flags.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogConfig {
    pub driver: Driver,
    /// Rotate the file once it would grow past this many bytes (file drivers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<u64>,
    /// How many files a rotated log keeps, the current one included.
    #[serde(default = "one")]
    pub max_file: u32,
    /// `--log-opt env=A,B`: these variables of the container, attached to each line.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// `--log-opt tag=`: the journal's SYSLOG_IDENTIFIER (default: the id's first 12 digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

fn one() -> u32 {
    1
}

/// Where the journal listens.
const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";

impl LogConfig {
    /// Checks `--log-driver` and the `--log-opt KEY=VALUE`s against the driver.
    pub fn parse(driver: Option<&str>, opts: &[String]) -> Result<LogConfig, OptionsError> {
        let name = driver.unwrap_or("json-file");
        let driver = match name {
            "json-file" => Driver::JsonFile,
            "k8s-file" => Driver::K8sFile,
            "journald" => Driver::Journald,
            "none" => Driver::None,
            "passthrough" => Driver::Passthrough,
            d => {
                return Err(bad(
                    "--log-driver",
                    d,
                    "want json-file, k8s-file, journald, none or passthrough",
                ))
            }
        };
        if driver == Driver::Journald && !Path::new(JOURNAL_SOCKET).exists() {
            return Err(bad(
                "--log-driver",
                name,
                format!("this host has no journal ({JOURNAL_SOCKET} does not exist)"),
            ));
        }
        let mut c = LogConfig {
            driver,
            max_file: 1,
            ..Default::default()
        };
        for o in opts {
            let Some((k, v)) = o.split_once('=') else {
                return Err(bad("--log-opt", o, "want KEY=VALUE"));
            };
            let files = matches!(driver, Driver::JsonFile | Driver::K8sFile);
            match k {
                "max-size" if files => c.max_size = Some(size(o, v)?),
                "max-file" if files => {
                    c.max_file =
                        v.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
                            bad("--log-opt", o, "max-file: want a count of 1 or more")
                        })?
                }
                "env" if driver != Driver::K8sFile && files || driver == Driver::Journald => {
                    c.env = v
                        .split(',')
                        .filter(|e| !e.is_empty())
                        .map(String::from)
                        .collect()
                }
                "tag" if driver == Driver::Journald => c.tag = Some(v.to_string()),
                _ => {
                    return Err(bad(
                        "--log-opt",
                        o,
                        format!("the {} log driver has no option {k:?}", driver.name()),
                    ))
                }
            }
        }
        if c.max_file > 1 && c.max_size.is_none() {
            return Err(bad("--log-opt", "max-file", "max-file needs max-size"));
        }
        Ok(c)
    }
}

/// `10m`, `1g`, `512k`, bytes: a log size, at least 4 KiB.
fn size(opt: &str, v: &str) -> Result<u64, OptionsError> {
    crate::options::size("--log-opt", v)
        .ok()
        .filter(|n| *n >= 4096)
        .ok_or_else(|| {
            bad(
                "--log-opt",
                opt,
                "max-size: want a size of 4k or more, such as 10m",
            )
        })
}

/// Where one container's lines are written.
enum Sink {
    File(file::LogFile),
    Journal(journald::Journal),
}

/// What the attending process does with a container's output: the pipes it reads, the log
/// it writes, and in the foreground the caller's stdout and stderr it copies to.
pub(crate) struct Collector {
    pipes: [Option<OwnedFd>; 2],
    /// `None` for the drivers that keep nothing.
    sink: Option<Sink>,
    /// Each stream's line not yet ended.
    partial: [Vec<u8>; 2],
    echo: Option<[OwnedFd; 2]>,
}

/// A line longer than this is logged in parts, as docker's are.
const MAX_LINE: usize = 16 * 1024;

impl Collector {
    /// The collector of container `id` (named `name`, with `env`), for `config`. `pipes` are
    /// the read ends of the container's stdout and stderr pipes (none with a terminal);
    /// `echo` is where the caller sees the output.
    pub(crate) fn new(
        config: &LogConfig,
        log_path: &Path,
        container: (&str, &str, &[String]),
        pipes: [Option<OwnedFd>; 2],
        echo: Option<[OwnedFd; 2]>,
    ) -> std::io::Result<Collector> {
        let (id, name, env) = container;
        let attrs: Vec<(String, String)> = config
            .env
            .iter()
            .filter_map(|k| {
                env.iter()
                    .find_map(|e| e.strip_prefix(k.as_str())?.strip_prefix('='))
                    .map(|v| (k.clone(), v.to_string()))
            })
            .collect();
        let sink = match config.driver {
            Driver::JsonFile | Driver::K8sFile => {
                Some(Sink::File(file::LogFile::open(log_path, config, attrs)?))
            }
            Driver::Journald => Some(Sink::Journal(journald::Journal::connect(
                Path::new(JOURNAL_SOCKET),
                id,
                name,
                config.tag.clone(),
                attrs,
            )?)),
            Driver::None | Driver::Passthrough => None,
        };
        Ok(Collector {
            pipes,
            sink,
            partial: [Vec::new(), Vec::new()],
            echo,
        })
    }

    /// Logs complete lines of `stream`; with `flush`, what is left of the last one too.
    fn log_lines(&mut self, stream: Stream, flush: bool) {
        let i = stream as usize;
        let buf = std::mem::take(&mut self.partial[i]);
        let mut rest = &buf[..];
        while let Some(end) = rest
            .iter()
            .position(|b| *b == b'\n')
            .map(|p| p + 1)
            .or_else(|| {
                (rest.len() >= MAX_LINE || flush && !rest.is_empty())
                    .then_some(rest.len().min(MAX_LINE))
            })
        {
            let end = end.min(MAX_LINE);
            match &mut self.sink {
                Some(Sink::File(f)) => f.line(stream, &rest[..end]),
                Some(Sink::Journal(j)) => j.line(stream, &rest[..end]),
                None => {}
            }
            rest = &rest[end..];
        }
        self.partial[i] = rest.to_vec();
        if let Some(Sink::File(f)) = &mut self.sink {
            f.flush();
        }
    }
}

impl Collector {
    /// The read ends of the container's stdout and stderr pipes.
    pub(crate) fn pipes(&self) -> [Option<BorrowedFd<'_>>; 2] {
        [0, 1].map(|i| self.pipes[i].as_ref().map(|p| p.as_fd()))
    }

    /// What the container wrote: to the caller and to the log.
    pub(crate) fn write(&mut self, stream: Stream, data: &[u8]) {
        if let Some(echo) = &self.echo {
            let _ = berth_sys::fs::write_all(echo[stream as usize].as_fd(), data);
        }
        if self.sink.is_some() {
            self.partial[stream as usize].extend_from_slice(data);
            self.log_lines(stream, false);
        }
    }
}

impl Drop for Collector {
    /// A last line without its newline is logged as it is.
    fn drop(&mut self) {
        self.log_lines(Stream::Stdout, true);
        self.log_lines(Stream::Stderr, true);
    }
}

/// The container's stdout and stderr, swapped for pipes while it runs: the runtime passes its
/// own stdio to the container, so the attending process puts the pipes' write ends on fds 1
/// and 2, and puts its own files back afterwards.
pub(crate) struct PipedStdio {
    saved: [OwnedFd; 2],
}

impl PipedStdio {
    /// Puts new pipes on fds 1 and 2; returns the guard and the pipes' read ends.
    pub(crate) fn install() -> std::io::Result<(PipedStdio, [OwnedFd; 2])> {
        let saved = PipedStdio::current()?;
        let (out_r, out_w) = std::io::pipe()?;
        let (err_r, err_w) = std::io::pipe()?;
        berth_sys::fs::dup_onto(out_w.as_fd(), 1)?;
        let guard = PipedStdio { saved };
        berth_sys::fs::dup_onto(err_w.as_fd(), 2)?;
        Ok((guard, [out_r.into(), err_r.into()]))
    }

    /// The files that were on fds 1 and 2: where a foreground caller sees the output.
    pub(crate) fn originals(&self) -> std::io::Result<[OwnedFd; 2]> {
        Ok([self.saved[0].try_clone()?, self.saved[1].try_clone()?])
    }

    /// Copies of the files on fds 1 and 2 now.
    pub(crate) fn current() -> std::io::Result<[OwnedFd; 2]> {
        // SAFETY: fds 1 and 2 are open for the whole process.
        let (out, err) = unsafe { (berth_sys::fs::borrow_raw(1), berth_sys::fs::borrow_raw(2)) };
        Ok([out.try_clone_to_owned()?, err.try_clone_to_owned()?])
    }
}

impl Drop for PipedStdio {
    fn drop(&mut self) {
        for (fd, saved) in [1, 2].into_iter().zip(&self.saved) {
            let _ = berth_sys::fs::dup_onto(saved.as_fd(), fd);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn drivers_and_options() {
        let c = LogConfig::parse(None, &[]).unwrap();
        assert_eq!(
            (c.driver, c.max_size, c.max_file),
            (Driver::JsonFile, None, 1)
        );
        let c = LogConfig::parse(Some("k8s-file"), &opts(&["max-size=10m", "max-file=3"])).unwrap();
        assert_eq!((c.max_size, c.max_file), (Some(10 << 20), 3));
        let c = LogConfig::parse(Some("json-file"), &opts(&["env=A,B"])).unwrap();
        assert_eq!(c.env, ["A", "B"]);
        for (d, o) in [
            (Some("syslog"), vec![]),
            (Some("none"), vec!["max-size=1m"]),
            (None, vec!["max-size=1"]),
            (None, vec!["max-file=0"]),
            (None, vec!["max-file=2"]),
            (None, vec!["compress=true"]),
            (None, vec!["nokey"]),
        ] {
            let e = LogConfig::parse(d, &opts(&o)).unwrap_err().to_string();
            assert!(e.starts_with("--log-"), "{d:?} {o:?}: {e}");
        }
    }
}
