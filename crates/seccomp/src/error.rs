//! The crate's one error type. Every message names what failed: the config field
//! (`linux.seccomp.syscalls[3].names[1]`), the cache file, the socket path or the syscall.

use std::io;
use std::path::PathBuf;

/// What went wrong while compiling, caching, installing or handing over a seccomp filter.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The `linux.seccomp` object asks for something that cannot be compiled.
    #[error("{field}: {message}")]
    Config {
        /// JSON path of the bad field, e.g. `linux.seccomp.syscalls[3].args[0].index`.
        field: String,
        /// Why it is rejected.
        message: String,
    },
    /// libseccomp refused a step while the filter was being built.
    #[error("{field}: {step}: {source}")]
    Libseccomp {
        /// The config field the step came from.
        field: String,
        /// The libseccomp call, e.g. `seccomp_rule_add(mkdir)`.
        step: String,
        /// libseccomp's error.
        #[source]
        source: libseccomp::error::SeccompError,
    },
    /// Exporting the compiled program to BPF bytes failed.
    #[error("export seccomp BPF: {0}")]
    Export(#[source] io::Error),
    /// The compiled program is not something the kernel can load.
    #[error("seccomp program: {0}")]
    Program(String),
    /// `seccomp(SECCOMP_SET_MODE_FILTER)` failed.
    #[error(
        "seccomp(SECCOMP_SET_MODE_FILTER, flags {flags:#x}, {len} instructions): {source}{}",
        install_hint(source)
    )]
    Install {
        /// The filter flags passed.
        flags: u32,
        /// Program length in instructions.
        len: usize,
        /// The kernel's error.
        #[source]
        source: io::Error,
    },
    /// With SECCOMP_FILTER_FLAG_TSYNC, another thread of the caller could not be synchronized.
    #[error("seccomp(SECCOMP_SET_MODE_FILTER, TSYNC): thread {0} could not be synchronized")]
    Tsync(i64),
    /// Reading or writing the compile cache failed.
    #[error("seccomp cache {path}: {message}")]
    Cache {
        /// The cache file or directory.
        path: PathBuf,
        /// What failed, with the system error.
        message: String,
    },
    /// Connecting or sending to the seccomp agent's `listenerPath` failed.
    #[error("seccomp listener {path}: {step}: {source}")]
    Listener {
        /// The `listenerPath` socket.
        path: PathBuf,
        /// `connect` or `send`.
        step: &'static str,
        /// The system error.
        #[source]
        source: io::Error,
    },
    /// The default profile template shipped in the crate is malformed (a build defect).
    #[error("default seccomp profile: {0}")]
    Profile(String),
}

/// What usually causes an install error.
fn install_hint(e: &io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(libc::EACCES) => {
            " (set no_new_privs first, or install while CAP_SYS_ADMIN is still held)"
        }
        Some(libc::EBUSY) => " (a listener already exists in this filter chain)",
        _ => "",
    }
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A config error at `field`.
pub(crate) fn config(field: impl Into<String>, message: impl Into<String>) -> Error {
    Error::Config {
        field: field.into(),
        message: message.into(),
    }
}
