//! Errors of the container's init: what step failed, on which path, and the system error.

use std::io;

/// A failed setup step inside the container's init. Sent to the parent as text.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub struct InitError {
    pub what: String,
    #[source]
    pub source: io::Error,
}

impl InitError {
    /// An error that is not a system call's: a check of ours failed.
    pub fn check(what: impl Into<String>, why: impl Into<String>) -> Self {
        InitError {
            what: what.into(),
            source: io::Error::other(why.into()),
        }
    }
}

/// Why the container's program cannot run, as callers that follow docker report it: 127 for
/// a program that is not there, 126 for one that cannot be executed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgramFault {
    NotFound,
    NotExecutable,
}

impl ProgramFault {
    /// The exit status docker and podman give a `run` or `exec` that fails this way.
    pub fn exit_status(self) -> i32 {
        match self {
            ProgramFault::NotFound => 127,
            ProgramFault::NotExecutable => 126,
        }
    }

    fn code(self) -> u8 {
        match self {
            ProgramFault::NotFound => 1,
            ProgramFault::NotExecutable => 2,
        }
    }

    /// The fault sent as `code` over the setup channel (0: none).
    pub(crate) fn from_code(code: u8) -> Option<ProgramFault> {
        match code {
            1 => Some(ProgramFault::NotFound),
            2 => Some(ProgramFault::NotExecutable),
            _ => None,
        }
    }

    pub(crate) fn to_code(fault: Option<ProgramFault>) -> u8 {
        fault.map_or(0, ProgramFault::code)
    }
}

/// An I/O error's payload that marks it as the program's fault.
#[derive(Debug)]
struct CannotRun {
    fault: ProgramFault,
    why: String,
}

impl std::fmt::Display for CannotRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.why)
    }
}

impl std::error::Error for CannotRun {}

impl InitError {
    /// The program `what` names cannot run: `fault`, because `why`.
    pub fn cannot_run(what: impl Into<String>, fault: ProgramFault, why: String) -> Self {
        let kind = match fault {
            ProgramFault::NotFound => io::ErrorKind::NotFound,
            ProgramFault::NotExecutable => io::ErrorKind::PermissionDenied,
        };
        InitError {
            what: what.into(),
            source: io::Error::new(kind, CannotRun { fault, why }),
        }
    }

    /// Whether this error says the program cannot run, and how.
    pub fn program_fault(&self) -> Option<ProgramFault> {
        self.source
            .get_ref()
            .and_then(|e| e.downcast_ref::<CannotRun>())
            .map(|c| c.fault)
    }
}

/// Adds the step's description to an I/O error.
pub trait Context<T> {
    fn ctx<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T, InitError>;
}

impl<T> Context<T> for io::Result<T> {
    fn ctx<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T, InitError> {
        self.map_err(|source| InitError {
            what: what().into(),
            source,
        })
    }
}
