//! The monitor of a detached container, conmon-style but without a daemon: `berth`
//! re-executed with a hidden subcommand, in a session of its own, its stdout and stderr on
//! the container's log (which the container inherits). It runs the container in the
//! foreground through the runtime core, so it is the container's parent and subreaper (the
//! host's PID 1 may never reap), forwards signals to it, records its exit and removes it
//! with `--rm`. It tells the `berth` that started it through [`HANDSHAKE_FD`].

use crate::attend::Caller;
use crate::{Engine, Error};
use std::fs::File;
use std::io::Write;
use std::os::fd::{FromRawFd, RawFd};
use std::path::Path;

/// The fd on which a monitor reports "ok" once the container runs, or the exit status and
/// the reason why it could not start ("127 exec ..."); end of file without either means the
/// monitor died.
pub const HANDSHAKE_FD: RawFd = 3;

/// The handshake when another monitor started the container first.
pub(crate) const ALREADY_RUNNING: &str = "running";

/// The pipe the starter put on [`HANDSHAKE_FD`], if it did; made close-on-exec (hooks
/// the runtime runs must not hold it open).
pub(crate) fn take_handshake() -> Result<Option<File>, Error> {
    // SAFETY: F_GETFD only reads the flags of an fd number.
    let open = unsafe { libc::fcntl(HANDSHAKE_FD, libc::F_GETFD) } != -1;
    // SAFETY: the starter put the pipe's write end on this fd for us alone; it was checked
    // to be open, and nothing else in this process uses it.
    let handshake = open.then(|| unsafe { File::from_raw_fd(HANDSHAKE_FD) });
    berth_sys::fs::cloexec_from(HANDSHAKE_FD as u32).map_err(Error::io("close_range"))?;
    Ok(handshake)
}

/// The body of a monitor for container `id` under `root` (with berth's configuration in
/// `config`); returns the container's exit status.
pub fn monitor(root: &Path, config: &Path, id: &str) -> Result<i32, Error> {
    let _ = berth_sys::process::set_name(c"berth-monitor");
    let mut handshake = take_handshake()?;
    let result = Engine::open(root)
        .and_then(|e| e.with_network_config(config))
        .and_then(|e| e.attend(id, Caller::Monitor, &mut handshake));
    // Not started: the starter hears why (another start winning is no failure to it).
    match (handshake, &result) {
        (Some(mut h), Err(Error::AlreadyRunning(_))) => {
            let _ = h.write_all(ALREADY_RUNNING.as_bytes());
            Ok(0)
        }
        (Some(mut h), Err(e)) => {
            let _ = h.write_all(format!("{} {e}", e.run_status()).as_bytes());
            result
        }
        _ => result,
    }
}
