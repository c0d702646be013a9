//! `start`: release a created container's init through its exec fifo, then run the poststart
//! hooks.

use crate::hooks::{self, HookState};
use crate::notify::Relay;
use crate::state::{Saved, Status};
use crate::{Error, Runtime};
use berth_sys::fs as sysfs;
use std::os::fd::AsFd;

/// Starts the created container `id`.
pub fn start(rt: &Runtime, id: &str) -> Result<(), Error> {
    let dir = rt.root.open(id)?;
    let saved = dir.load()?;
    let status = dir.status(saved.as_ref())?;
    let Some(saved) = saved.filter(|_| status == Status::Created) else {
        return Err(Error::WrongStatus {
            id: id.into(),
            status,
            action: "start it (only a created container can start)",
        });
    };
    // The pidfd comes first: once the fifo is open, the init may run, fail and be reaped.
    let Some(pidfd) = crate::kill::init_pidfd(&saved)? else {
        return Err(Error::Usage(
            "the container's init exited before it could start".into(),
        ));
    };
    // Bound before the program runs, so that none of its messages is lost.
    let notify = Relay::open(dir.path())?;
    let fifo_path = dir.fifo_path();
    let fifo = sysfs::open(&fifo_path, libc::O_RDONLY | libc::O_NONBLOCK, 0)
        .map_err(Error::path(&fifo_path))?;
    await_exec(fifo.as_fd(), pidfd.as_fd())?;
    std::fs::remove_file(&fifo_path).map_err(Error::path(&fifo_path))?;
    poststart(&saved);
    match notify {
        Some(n) => n.until_ready(pidfd.as_fd()),
        None => Ok(()),
    }
}

/// Waits until the init has taken the start signal and executed the container's program:
/// it writes one byte, keeps the fifo open until its exec closes it, and writes an error
/// instead if a step after the signal (startContainer hooks, exec) fails.
fn await_exec(
    fifo: std::os::fd::BorrowedFd<'_>,
    pidfd: std::os::fd::BorrowedFd<'_>,
) -> Result<(), Error> {
    let mut got = Vec::new();
    loop {
        // Before the first byte the writer may not have opened the fifo yet, so only the
        // init's death ends the wait; after it, end of file does.
        let watch_init = got.is_empty().then_some(pidfd);
        let ready = berth_sys::poll::readable(&[Some(fifo), watch_init], None)
            .map_err(Error::io("poll the exec fifo"))?;
        if ready[0] {
            let mut buf = [0u8; 4096];
            match sysfs::read(fifo, &mut buf) {
                Ok(0) if !got.is_empty() => break,
                Ok(0) => {}
                Ok(k) => got.extend_from_slice(&buf[..k]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(Error::io("read the exec fifo")(e)),
            }
            continue;
        }
        if ready[1] {
            return Err(Error::Usage(
                "the container's init exited before it could start".into(),
            ));
        }
    }
    match got.split_first() {
        Some((b'0', [])) => Ok(()),
        Some((b'0', msg)) => Err(Error::Usage(String::from_utf8_lossy(msg).into_owned())),
        _ => Err(Error::Usage("unexpected data on the exec fifo".into())),
    }
}

/// Poststart hooks: a failure is a warning, the others and the container go on (runtime-spec).
pub(crate) fn poststart(saved: &Saved) {
    let Some(list) = saved
        .config
        .hooks()
        .as_ref()
        .and_then(|h| h.poststart().clone())
    else {
        return;
    };
    let state = HookState {
        oci_version: saved.config.version(),
        id: &saved.id,
        status: Status::Running,
        pid: Some(saved.pid),
        bundle: &saved.bundle,
        annotations: saved.annotations(),
    };
    hooks::run_warning("poststart", &list, &state);
}
