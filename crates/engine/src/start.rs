//! `start`: run a created (or exited) container in the background, under a new monitor
//! (see [`crate::monitor`]), and return once its program runs.

use crate::monitor::{ALREADY_RUNNING, HANDSHAKE_FD};
use crate::record::{Record, State};
use crate::{Engine, Error};
use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// How to start a monitor: the program and the arguments that come before the container's
/// id (the `berth` binary, its global flags and its hidden subcommand).
#[derive(Clone, Debug)]
pub struct MonitorCommand {
    pub program: PathBuf,
    pub args: Vec<OsString>,
}

impl Engine {
    /// Starts the container `what` names; a running one is left as it is.
    pub fn start(&self, what: &str, monitor: &MonitorCommand) -> Result<Record, Error> {
        let r = self.container(what)?;
        if r.state != State::Running {
            self.spawn_monitor(&r, monitor)?;
        }
        self.container(&r.id)
    }

    /// Starts a monitor for container `r` and waits for its word.
    pub(crate) fn spawn_monitor(&self, r: &Record, m: &MonitorCommand) -> Result<(), Error> {
        let word = spawn_detached(
            &m.program,
            m.args
                .iter()
                .map(OsString::as_os_str)
                .chain([r.id.as_ref()]),
        )?;
        match word.as_str() {
            "ok" | ALREADY_RUNNING => Ok(()),
            "" => Err(Error::Failed {
                name: r.name.clone(),
                reason: "its monitor exited before the container started".into(),
            }),
            why => {
                let (status, message) = why
                    .split_once(' ')
                    .and_then(|(s, m)| Some((s.parse().ok()?, m)))
                    .unwrap_or((125, why));
                Err(Error::Reported {
                    status,
                    message: message.to_string(),
                })
            }
        }
    }
}

/// Starts `program ARGS` in a session of its own, stdio on /dev/null, with the write end of
/// a pipe on [`HANDSHAKE_FD`], and returns what it writes there before closing it (empty:
/// it died first). It outlives us.
pub(crate) fn spawn_detached<'a>(
    program: &Path,
    args: impl IntoIterator<Item = &'a OsStr>,
) -> Result<String, Error> {
    let (mut reader, writer) = std::io::pipe().map_err(Error::io("pipe"))?;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let w = writer.as_raw_fd();
    // SAFETY: between fork and exec the child only makes async-signal-safe system calls
    // (setsid, dup3/fcntl, close_range); `w` is open in the parent, so in the child too.
    unsafe {
        cmd.pre_exec(move || {
            berth_sys::process::setsid()?;
            berth_sys::fs::dup_onto(BorrowedFd::borrow_raw(w), HANDSHAKE_FD)?;
            // It outlives its caller: it must not keep the caller's files (a pipe it holds
            // open would never see its end).
            berth_sys::fs::cloexec_from(HANDSHAKE_FD as u32 + 1)
        });
    }
    let child = cmd.spawn().map_err(Error::path(program))?;
    drop(cmd);
    drop(writer);
    let mut word = String::new();
    let read = reader.read_to_string(&mut word);
    drop(child);
    read.map_err(Error::io("read a handshake"))?;
    Ok(word)
}
