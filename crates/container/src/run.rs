//! `run`: create and start in one process. In the foreground it stays as the container's
//! parent: it forwards signals, relays the terminal, reaps orphans (it is a subreaper, because
//! PID 1 on some hosts never reaps), returns the container's exit status, and deletes the
//! container. With `detach` it returns once the container runs.

use crate::create::{build, Built, CreateOptions};
use crate::delete::destroy;
use crate::start::poststart;
use crate::{foreground, Error, Runtime};
use berth_sys::process as sysproc;
pub use foreground::{Output, Stream};
use std::os::fd::{AsFd, BorrowedFd};

/// Runs the container; returns its exit status (0 when detached).
pub fn run(rt: &Runtime, opts: &CreateOptions, detach: bool) -> Result<i32, Error> {
    if detach {
        let built = build(rt, opts, false, false)?;
        // Opened while the init waits for the start signal: once started it may exit and be
        // reaped (and its pid reused) before the relay would look.
        let watch = built
            .notify
            .as_ref()
            .map(|n| sysproc::pidfd_open(built.spawned.pid).map(|fd| (n, fd)))
            .transpose()
            .map_err(Error::io("pidfd_open of the container's init"))?;
        if let Err(e) = foreground::start(&built.spawned.channel) {
            // As in the foreground, `run` owns the container: a failed start leaves nothing.
            end_init(built.spawned.pid);
            if let Err(d) = destroy(built.dir, &built.saved, false) {
                tracing::warn!("container {}: {d}", built.saved.id);
            }
            return Err(e);
        }
        poststart(&built.saved);
        if let Some((n, pidfd)) = watch {
            n.until_ready(pidfd.as_fd())?;
        }
        return Ok(0);
    }
    run_observed(rt, opts, &mut ())
}

/// What a caller of [`run_observed`] is told while its container starts.
pub trait Observer {
    /// The init is ready in its namespaces and the program has not started yet; an error
    /// stops the container.
    fn created(&mut self, _pid: i32) -> Result<(), Error> {
        Ok(())
    }
    /// The container's program runs.
    fn started(&mut self, _pid: i32) {}
    /// The program has ended; `oom_kills` is how many of the container's processes the
    /// kernel's OOM killer ended (read before the cgroup goes).
    fn ended(&mut self, _oom_kills: u64) {}
    /// Where the container's output goes, when the caller takes it (see [`Output`]).
    fn output(&mut self) -> Option<&mut dyn Output> {
        None
    }
}

impl Observer for () {}

/// Foreground `run` that tells `observer` when the container is created and when it runs
/// (an engine records the init and prepares its network between the two).
pub fn run_observed(
    rt: &Runtime,
    opts: &CreateOptions,
    observer: &mut dyn Observer,
) -> Result<i32, Error> {
    foreground::session(|sigfd| attend(build(rt, opts, false, true)?, sigfd, observer))
}

fn attend(built: Built, sigfd: BorrowedFd<'_>, observer: &mut dyn Observer) -> Result<i32, Error> {
    let Built {
        dir,
        saved,
        spawned,
        notify,
    } = built;
    let terminal = foreground::Relay::for_pty(spawned.master.as_ref());
    let exit = observer
        .created(spawned.pid)
        .and_then(|()| foreground::start(&spawned.channel))
        .and_then(|()| {
            poststart(&saved);
            observer.started(spawned.pid);
            let output = observer.output();
            let code = foreground::attend(spawned.pid, sigfd, terminal, notify.as_ref(), output)?;
            observer.ended(
                saved
                    .cgroup
                    .as_ref()
                    .map_or(0, |c| c.oom_kills().unwrap_or(0)),
            );
            Ok(code)
        });
    // Whatever happened, the container is removed: `run` owns it.
    if exit.is_err() {
        end_init(spawned.pid);
    }
    let removed = destroy(dir, &saved, false);
    // The cgroup's stragglers were killed; they may be our children (we are a subreaper).
    foreground::reap_exited();
    let code = exit?;
    removed?;
    Ok(code)
}

/// Kills and reaps an init that will not run its program (it is our child until we exit).
fn end_init(pid: i32) {
    let _ = sysproc::kill(pid, libc::SIGKILL);
    let _ = sysproc::waitpid(pid, 0);
}
