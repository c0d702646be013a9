//! `run`: create and start in one process. In the foreground it stays as the container's
//! parent: it forwards signals, relays the terminal, reaps orphans (it is a subreaper, because
//! PID 1 on some hosts never reaps), returns the container's exit status, and deletes the
//! container. With `detach` it returns once the container runs.

use crate::create::{build, Built, CreateOptions};
use crate::delete::destroy;
use crate::start::poststart;
use crate::{Error, Runtime};
use berth_sys::process as sysproc;
use berth_sys::{fs as sysfs, pty, signal};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

/// Runs the container; returns its exit status (0 when detached).
pub fn run(rt: &Runtime, opts: &CreateOptions, detach: bool) -> Result<i32, Error> {
    if detach {
        let built = build(rt, opts, false, false)?;
        start(&built.spawned.channel)?;
        poststart(&built.saved);
        return Ok(0);
    }
    sysproc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1)
        .map_err(Error::io("prctl(PR_SET_CHILD_SUBREAPER)"))?;
    // Signals are blocked before the container exists, so none is lost before the loop reads
    // them from the signalfd; the init unblocks its own mask before exec.
    let old_mask = signal::block_all().map_err(Error::io("block signals"))?;
    let result = signal::signalfd_all()
        .map_err(Error::io("signalfd"))
        .and_then(|sigfd| foreground(build(rt, opts, false, true)?, sigfd.as_fd()));
    let _ = signal::restore_mask(&old_mask);
    result
}

fn foreground(built: Built, sigfd: BorrowedFd<'_>) -> Result<i32, Error> {
    let Built {
        dir,
        saved,
        spawned,
    } = built;
    let exit = start(&spawned.channel).and_then(|()| {
        poststart(&saved);
        let relay = spawned.master.as_ref().map(|m| Relay::new(m.as_fd()));
        supervise(spawned.pid, sigfd, relay)
    });
    // Whatever happened, the container is removed: `run` owns it.
    if exit.is_err() {
        let _ = sysproc::kill(spawned.pid, libc::SIGKILL);
        let _ = sysproc::waitpid(spawned.pid, 0);
    }
    let removed = destroy(dir, &saved);
    let code = exit?;
    removed?;
    Ok(code)
}

/// Releases the init and waits until it has executed the container's program.
fn start(channel: &crate::process::channel::ParentEnd) -> Result<(), Error> {
    use crate::process::channel::ChannelError;
    channel.start().map_err(|e| match e {
        ChannelError::Failed(msg) => Error::Usage(msg),
        other => Error::Usage(format!("start the container: {other}")),
    })
}

/// The caller's terminal tied to the container's pty.
struct Relay<'a> {
    master: BorrowedFd<'a>,
    stdin: BorrowedFd<'a>,
    stdout: BorrowedFd<'a>,
    /// The caller's terminal mode, restored at the end.
    saved_mode: Option<pty::Mode>,
    stdin_open: bool,
}

impl<'a> Relay<'a> {
    fn new(master: BorrowedFd<'a>) -> Self {
        // SAFETY: fds 0 and 1 are open for the whole process lifetime.
        let (stdin, stdout) = unsafe { (sysfs::borrow_raw(0), sysfs::borrow_raw(1)) };
        let saved_mode = if pty::is_tty(stdin) {
            if let Ok((rows, cols)) = pty::window_size(stdin) {
                let _ = pty::set_window_size(master, rows, cols);
            }
            pty::make_raw(stdin).ok()
        } else {
            None
        };
        Relay {
            master,
            stdin,
            stdout,
            saved_mode,
            stdin_open: true,
        }
    }

    fn resize(&self) {
        if let Ok((rows, cols)) = pty::window_size(self.stdin) {
            let _ = pty::set_window_size(self.master, rows, cols);
        }
    }

    /// Copies what is readable now from `from` to `to`; false at end of input.
    fn pump(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> bool {
        let mut buf = [0u8; 8192];
        match sysfs::read(from, &mut buf) {
            Ok(0) | Err(_) => false,
            Ok(n) => sysfs::write_all(to, &buf[..n]).is_ok(),
        }
    }

    /// Copies the pty's remaining output once the container has exited.
    fn drain(&self) {
        loop {
            let mut p = libc::pollfd {
                fd: self.master.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            if unsafe { libc::poll(&mut p, 1, 0) } <= 0 || !Self::pump(self.master, self.stdout) {
                return;
            }
        }
    }
}

impl Drop for Relay<'_> {
    fn drop(&mut self) {
        if let Some(m) = &self.saved_mode {
            let _ = pty::restore_mode(self.stdin, m);
        }
    }
}

/// Waits for the init to exit, forwarding signals to it and relaying the terminal; reaps
/// every other child that is reparented to us.
fn supervise(init: i32, sigfd: BorrowedFd<'_>, mut relay: Option<Relay<'_>>) -> Result<i32, Error> {
    let mut master_open = relay.is_some();
    loop {
        let mut fds = vec![libc::pollfd {
            fd: sigfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        if let Some(r) = &relay {
            if master_open {
                fds.push(libc::pollfd {
                    fd: r.master.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                });
            }
            if r.stdin_open {
                fds.push(libc::pollfd {
                    fd: r.stdin.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                });
            }
        }
        // SAFETY: `fds` is a valid array of pollfds.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if n < 0 {
            continue;
        }
        if let Some(r) = relay.as_mut() {
            for p in fds[1..].iter().filter(|p| p.revents != 0) {
                if p.fd == r.master.as_raw_fd() && !Relay::pump(r.master, r.stdout) {
                    master_open = false;
                }
                if p.fd == r.stdin.as_raw_fd() && !Relay::pump(r.stdin, r.master) {
                    r.stdin_open = false;
                }
            }
        }
        while let Some(sig) = signal::read_signalfd(sigfd).map_err(Error::io("read signalfd"))? {
            match sig {
                libc::SIGCHLD => {
                    if let Some(code) = reap(init)? {
                        if let Some(r) = &relay {
                            r.drain();
                        }
                        return Ok(code);
                    }
                }
                libc::SIGWINCH if relay.is_some() => {
                    if let Some(r) = &relay {
                        r.resize();
                    }
                }
                libc::SIGURG => {}
                s => {
                    let _ = sysproc::kill(init, s);
                }
            }
        }
    }
}

/// Reaps every exited child; the init's exit status once it is among them.
fn reap(init: i32) -> Result<Option<i32>, Error> {
    let mut result = None;
    loop {
        match sysproc::waitpid(-1, libc::WNOHANG) {
            Ok(Some((pid, exit))) => {
                if pid == init {
                    result = Some(exit.status());
                }
            }
            Ok(None) => return Ok(result),
            Err(e) if e.raw_os_error() == Some(libc::ECHILD) => return Ok(result),
            Err(e) => return Err(Error::io("waitpid")(e)),
        }
    }
}
