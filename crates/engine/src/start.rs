//! `start`: run a created (or exited) container in the background, under a new monitor
//! (see [`crate::monitor`]), and return once its program runs.

use crate::attach::Attached;
use crate::monitor::{ALREADY_RUNNING, HANDSHAKE_FD};
use crate::record::{Record, State};
use crate::{Engine, Error};
use std::ffi::{OsStr, OsString};
use std::io::{PipeReader, Read};
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
        let handshake = self.launch_monitor(r, m, false)?;
        self.handshake(r, handshake)
    }

    /// Starts container `what` with a client attached from before its program runs
    /// (`start -a`): the monitor waits for the client.
    pub fn start_attached(&self, what: &str, m: &MonitorCommand) -> Result<Attached, Error> {
        let r = self.container(what)?;
        if r.state == State::Running {
            return self.attach(&r.id);
        }
        let since = std::time::Instant::now();
        let handshake = self.launch_monitor(&r, m, true)?;
        let attached = self.connect(&r.id, since)?;
        self.handshake(&r, handshake)?;
        Ok(attached)
    }

    /// Starts a monitor for container `r`; returns the pipe its word comes on.
    fn launch_monitor(
        &self,
        r: &Record,
        m: &MonitorCommand,
        wait_attach: bool,
    ) -> Result<PipeReader, Error> {
        let mut args: Vec<&OsStr> = m.args.iter().map(OsString::as_os_str).collect();
        if wait_attach {
            args.push(OsStr::new("--wait-attach"));
        }
        args.push(OsStr::new(&r.id));
        launch_detached(&m.program, args)
    }

    /// Waits for the word of container `r`'s monitor on `reader`.
    fn handshake(&self, r: &Record, mut reader: PipeReader) -> Result<(), Error> {
        let mut word = String::new();
        reader
            .read_to_string(&mut word)
            .map_err(Error::io("read the monitor's handshake"))?;
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

/// The program of berth's long-lived helpers (a container's monitor, a network's DNS
/// server) and of the health checks a monitor starts: `berth-monitor` beside the running
/// binary, which loads no registry, TLS or command-line code, else the running binary
/// itself, which knows the same hidden commands.
pub fn helper_program() -> PathBuf {
    let me = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/proc/self/exe"));
    let helper = me.with_file_name("berth-monitor");
    match helper.is_file() {
        true => helper,
        false => me,
    }
}

/// Starts `program ARGS` in a session of its own (a monitor, a DNS server), stdio on
/// /dev/null, with the write end of a pipe on [`HANDSHAKE_FD`]; returns the read end, where
/// its word comes. It outlives us.
pub(crate) fn launch_detached<'a>(
    program: &Path,
    args: impl IntoIterator<Item = &'a OsStr>,
) -> Result<PipeReader, Error> {
    let (reader, writer) = std::io::pipe().map_err(Error::io("pipe"))?;
    let mut cmd = Command::new(program);
    // It has nothing to say but its word (a monitor writes the container's log itself).
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let w = writer.as_raw_fd();
    // SAFETY: between fork and exec the child only makes async-signal-safe system calls
    // (fork, setsid, dup3/fcntl, close_range); `w` is open in the parent, so in the child
    // too.
    unsafe {
        cmd.pre_exec(move || {
            // Not the caller's child: a long-lived caller (the API service) would otherwise
            // collect zombies.
            berth_sys::process::detach_from_parent()?;
            berth_sys::process::setsid()?;
            berth_sys::fs::dup_onto(BorrowedFd::borrow_raw(w), HANDSHAKE_FD)?;
            // It outlives its caller: it must not keep the caller's files (a pipe it holds
            // open would never see its end).
            berth_sys::fs::cloexec_from(HANDSHAKE_FD as u32 + 1)
        });
    }
    // What is reaped here is the middle process, gone at once.
    cmd.spawn()
        .and_then(|mut middle| middle.wait())
        .map_err(Error::path(program))?;
    Ok(reader)
}
