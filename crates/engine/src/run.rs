//! `run`: create, then either start under a monitor (`-d`), or attend the container in this
//! process with the caller's stdio (stdin only with `-i`; a pty with `-t`). A container that
//! fails to start is removed again, with its anonymous volumes: bad input leaves nothing
//! behind (but a named volume made on first use, as docker keeps it).

use crate::attend::Caller;
use crate::options::RunOptions;
use crate::start::MonitorCommand;
use crate::{Engine, Error};
use berth_sys::{fs as sysfs, pty};
use std::os::fd::{AsFd, BorrowedFd};

/// How `run` ended.
#[derive(Debug)]
pub enum Outcome {
    /// Started in the background: the container's id.
    Detached(String),
    /// Ran in the foreground and exited with this status.
    Exited(i32),
}

impl Engine {
    /// Creates and runs a container.
    pub fn run(&self, o: &RunOptions, monitor: &MonitorCommand) -> Result<Outcome, Error> {
        let r = self.create(o)?;
        let result = if o.detach {
            self.spawn_monitor(&r, monitor)
                .map(|()| Outcome::Detached(r.id.clone()))
        } else {
            self.run_created(&r.id, o.interactive, true)
        };
        if result.is_err() {
            match self.remove(&r.id, true, true) {
                Ok(_) | Err(Error::NoSuchContainer(_)) => {}
                Err(e) => return Err(e),
            }
        }
        result
    }
}

impl Engine {
    /// Runs created container `id` in the foreground until it exits, as `run` does (and
    /// a build's RUN step); it reads the caller's stdin only if `interactive`, and its
    /// output goes to the caller's stdout and stderr (besides its log) only if `echo`.
    pub fn run_created(&self, id: &str, interactive: bool, echo: bool) -> Result<Outcome, Error> {
        stdin_unless_interactive(interactive)?;
        self.attend(id, Caller::Foreground { echo }, &mut None)
            .map(Outcome::Exited)
    }
}

/// The size of the caller's terminal, if stdin or stdout is one.
pub(crate) fn terminal_size() -> Option<(u16, u16)> {
    [0, 1].into_iter().find_map(|fd| {
        // SAFETY: fds 0 and 1 stay open for the whole process.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        pty::window_size(fd).ok()
    })
}

/// Without `-i` the container reads nothing: /dev/null on our stdin, which it inherits.
pub(crate) fn stdin_unless_interactive(interactive: bool) -> Result<(), Error> {
    if interactive {
        return Ok(());
    }
    let null = std::fs::File::open("/dev/null").map_err(Error::path("/dev/null"))?;
    sysfs::dup_onto(null.as_fd(), 0).map_err(Error::io("dup /dev/null onto stdin"))
}
