//! The monitor of a detached container, conmon-style but without a daemon: `berth-monitor`
//! (or `berth` re-executed with a hidden subcommand, when it is alone), in a session of its
//! own, its stdout and stderr on
//! the container's log (which the container inherits). It runs the container in the
//! foreground through the runtime core, so it is the container's parent and subreaper (the
//! host's PID 1 may never reap), forwards signals to it, records its exit and removes it
//! with `--rm`. It tells the `berth` that started it through [`HANDSHAKE_FD`].

use crate::attend::Caller;
use crate::{Engine, Error};
use std::fs::File;
use std::io::Write;
use std::os::fd::RawFd;
use std::path::Path;
use std::time::Duration;

/// The fd on which a monitor reports "ok" once the container runs, or the exit status and
/// the reason why it could not start ("127 exec ..."); end of file without either means the
/// monitor died.
pub const HANDSHAKE_FD: RawFd = 3;

/// The handshake when another monitor started the container first.
pub(crate) const ALREADY_RUNNING: &str = "running";

/// The pipe the starter put on [`HANDSHAKE_FD`], if it did; made close-on-exec (hooks
/// the runtime runs must not hold it open).
pub(crate) fn take_handshake() -> Result<Option<File>, Error> {
    // The starter put the pipe's write end on this fd for us alone.
    let handshake = berth_sys::fs::take_inherited(HANDSHAKE_FD)
        .map_err(Error::io("the handshake fd"))?
        .map(File::from);
    berth_sys::fs::cloexec_from(HANDSHAKE_FD as u32).map_err(Error::io("close_range"))?;
    Ok(handshake)
}

/// The body of a monitor for container `id` under `root` (with berth's configuration in
/// `config`); returns the container's last exit status. With a restart policy it starts the
/// container again after each end that the policy names, after a pause (see [`Backoff`]).
pub fn monitor(root: &Path, config: &Path, id: &str, wait_attach: bool) -> Result<i32, Error> {
    let _ = berth_sys::process::set_name(c"berth-monitor");
    // One malloc arena: the thread that configures a bridge container's network namespace
    // would otherwise leave a second one behind, 70 KiB of each idle monitor's PSS
    // (docs/BENCHMARKS.md).
    // SAFETY: mallopt only sets a parameter of glibc's allocator; no thread runs yet.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, 1) };
    let mut handshake = take_handshake()?;
    let engine = Engine::open(root).and_then(|e| e.with_network_config(config));
    let mut backoff = Backoff::default();
    loop {
        let result = engine
            .as_ref()
            .map_err(|e| Error::Reported {
                status: e.run_status(),
                message: e.to_string(),
            })
            .and_then(|e| e.attend(id, Caller::Monitor { wait_attach }, &mut handshake));
        // Not started: the starter hears why (another start winning is no failure to it).
        if let Some(mut h) = handshake.take() {
            return match &result {
                Err(Error::AlreadyRunning(_)) => {
                    let _ = h.write_all(ALREADY_RUNNING.as_bytes());
                    Ok(0)
                }
                Err(e) => {
                    let _ = h.write_all(format!("{} {e}", e.run_status()).as_bytes());
                    result
                }
                Ok(_) => result,
            };
        }
        let Ok(e) = &engine else {
            return result;
        };
        let Some(pause) = e.restart_pause(id, &result, &mut backoff)? else {
            return result;
        };
        std::thread::sleep(pause);
        if !e.still_restarting(id)? {
            return result;
        }
    }
}

/// docker's pause before a restart: 100 ms, doubled each time, at most a minute, and back to
/// 100 ms once a run lasted 10 s.
#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            next: Duration::from_millis(100),
        }
    }
}

impl Backoff {
    /// The pause before the next start, after a run of `ran`.
    pub(crate) fn pause(&mut self, ran: Duration) -> Duration {
        if ran >= Duration::from_secs(10) {
            *self = Backoff::default();
        }
        let pause = self.next;
        self.next = (self.next * 2).min(Duration::from_secs(60));
        pause
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_to_a_minute_and_reset_after_a_long_run() {
        let mut b = Backoff::default();
        let quick = Duration::from_millis(5);
        let got: Vec<u64> = (0..12).map(|_| b.pause(quick).as_millis() as u64).collect();
        assert_eq!(&got[..4], [100, 200, 400, 800]);
        assert_eq!(got[11], 60_000);
        assert_eq!(b.pause(Duration::from_secs(10)).as_millis(), 100);
    }
}
