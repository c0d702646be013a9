//! The runtime core's error: one variant per module's error, plus the lifecycle's own.

use crate::hooks::HookError;
use crate::process::parent::LaunchError;
use crate::spec::SpecError;
use crate::state::{StateError, Status};
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("{0}")]
    Launch(#[from] LaunchError),
    #[error(transparent)]
    Hook(#[from] HookError),
    #[error("cgroup: {0}")]
    Cgroup(#[from] berth_cgroups::Error),
    #[error("{path}: {source}")]
    Path {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("container {id} is {status}: cannot {action}")]
    WrongStatus {
        id: String,
        status: Status,
        action: &'static str,
    },
    /// runc's words: containerd's shim matches "container not running" to treat a kill
    /// that came too late as done.
    #[error("container not running: {0} has stopped")]
    NotRunning(String),
    #[error("{0}")]
    Usage(String),
    #[error("{what}: {source}")]
    Json {
        what: String,
        source: serde_json::Error,
    },
}

impl Error {
    /// Set when the error is that the container's program cannot run.
    pub fn program_fault(&self) -> Option<crate::init::ProgramFault> {
        match self {
            Error::Launch(crate::process::parent::LaunchError::CannotRun(fault, _)) => Some(*fault),
            _ => None,
        }
    }

    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let what = what.into();
        move |source| Error::Io { what, source }
    }

    pub(crate) fn json(what: impl Into<String>) -> impl FnOnce(serde_json::Error) -> Error {
        let what = what.into();
        move |source| Error::Json { what, source }
    }

    pub(crate) fn path(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Path { path, source }
    }
}
