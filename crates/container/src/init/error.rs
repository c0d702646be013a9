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
