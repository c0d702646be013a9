//! flock-based locks on files in the store. The kernel drops them when the process
//! dies, so a crashed berth never leaves the store locked.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::Path;

use super::{io_err, StoreError};
use crate::sys;

/// A held lock; released on drop.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

impl Lock {
    /// Waits for the lock on `path`, shared or exclusive.
    pub fn take(path: &Path, exclusive: bool) -> Result<Lock, StoreError> {
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(io_err("open lock", path))?;
        sys::flock(file.as_fd(), exclusive).map_err(io_err("lock", path))?;
        Ok(Lock { _file: file })
    }
}
