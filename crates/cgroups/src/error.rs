//! The crate's error type. Every message names the file or path involved and, for writes,
//! the value, so a caller can print it as one line.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// Shorthand for this crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the cgroup layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A resource file could not be written (the kernel rejected the value, or similar).
    #[error("{resource}: writing {value:?} to {path}: {source}")]
    Write {
        /// The OCI resource, e.g. `memory.limit`.
        resource: &'static str,
        /// The cgroup file.
        path: PathBuf,
        /// What was written.
        value: String,
        /// The error from write(2).
        source: io::Error,
    },
    /// The file a resource needs does not exist: its controller is not enabled for this
    /// cgroup, or the kernel does not have the feature.
    #[error("{resource}: {path} does not exist (controller not enabled, or not supported by this kernel)")]
    Missing {
        /// The OCI resource.
        resource: &'static str,
        /// The missing file.
        path: PathBuf,
    },
    /// The controller a resource needs is not mounted on this host.
    #[error("{resource}: the {controller} controller is not mounted on this host")]
    NoController {
        /// The OCI resource.
        resource: &'static str,
        /// The cgroup v1 controller name.
        controller: &'static str,
    },
    /// A resource that this cgroup version cannot express.
    #[error("{resource}: {reason}")]
    Unsupported {
        /// The OCI resource.
        resource: &'static str,
        /// Why, in a few words.
        reason: &'static str,
    },
    /// A value outside what the resource accepts.
    #[error("{resource}: invalid value {value}: {reason}")]
    Invalid {
        /// The OCI resource.
        resource: &'static str,
        /// The offending value as given.
        value: String,
        /// Why it is rejected.
        reason: &'static str,
    },
    /// `linux.cgroupsPath` is not usable with this driver.
    #[error("cgroupsPath {path:?}: {reason}")]
    CgroupsPath {
        /// The path as given.
        path: String,
        /// Why it is rejected.
        reason: &'static str,
    },
    /// /proc/self/mountinfo or /proc/self/cgroup could not be understood.
    #[error("{file}: {reason}: {line:?}")]
    Parse {
        /// The file being parsed.
        file: &'static str,
        /// What was wrong.
        reason: &'static str,
        /// The offending line.
        line: String,
    },
    /// No cgroup filesystem is mounted.
    #[error("no cgroup or cgroup2 filesystem in /proc/self/mountinfo")]
    NotMounted,
    /// A manager without directories: only a damaged or hand-made state can produce one.
    #[error("the cgroup manager names no cgroup directory (damaged container state?)")]
    NoDirectory,
    /// A filesystem operation on a cgroup path failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// The operation, e.g. `mkdir`, `read`.
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The cgroup did not reach a state in time (freezing, emptying before rmdir).
    #[error("{op} {path}: still not done after {waited:?}")]
    Timeout {
        /// What was awaited.
        op: &'static str,
        /// The cgroup.
        path: PathBuf,
        /// How long we waited.
        waited: Duration,
    },
    /// A bpf(2) call for the v2 device filter failed.
    #[error("devices: bpf {op} on {path}: {source}{log}")]
    Bpf {
        /// The bpf command, e.g. `BPF_PROG_LOAD`.
        op: &'static str,
        /// The cgroup the program is for.
        path: PathBuf,
        /// The error from bpf(2).
        source: io::Error,
        /// The verifier log (empty unless the load failed), prefixed with `: `.
        log: String,
    },
    /// systemd refused or did not answer (the systemd driver).
    #[error("systemd: {action} {unit}: {reason}")]
    Systemd {
        /// What was asked, e.g. `start the scope`.
        action: &'static str,
        /// The unit.
        unit: String,
        /// systemd's answer, or why there was none.
        reason: String,
    },
    /// An `org.systemd.property.*` annotation that cannot be passed to systemd.
    #[error("annotation {key}={value:?}: {reason}")]
    Property {
        /// The annotation's key.
        key: String,
        /// Its value.
        value: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A system call the cgroup layer needs failed.
    #[error("{call}: {source}")]
    Sys {
        /// The call and its argument, e.g. `kill(1234)`.
        call: String,
        /// The error.
        source: io::Error,
    },
}

impl Error {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn invalid(
        resource: &'static str,
        value: impl ToString,
        reason: &'static str,
    ) -> Self {
        Error::Invalid {
            resource,
            value: value.to_string(),
            reason,
        }
    }

    /// The errno behind this error, when there is one.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Error::Write { source, .. }
            | Error::Io { source, .. }
            | Error::Bpf { source, .. }
            | Error::Sys { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}
