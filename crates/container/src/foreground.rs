//! A process the runtime attends in the foreground (`run`, `exec`): the runtime is a
//! subreaper with every signal blocked before the child exists, forwards signals to it,
//! relays the terminal, reaps whatever is reparented to it, and returns the exit status.

use crate::{notify, Error};
use berth_sys::process as sysproc;
use berth_sys::{fs as sysfs, poll, pty, signal};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

/// Runs `f` as a subreaper with all signals blocked and readable from the signalfd it gets.
/// Blocking before the child exists loses no signal meant for it; the child unblocks its own
/// mask before exec.
pub(crate) fn session<T>(f: impl FnOnce(BorrowedFd<'_>) -> Result<T, Error>) -> Result<T, Error> {
    sysproc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1)
        .map_err(Error::io("prctl(PR_SET_CHILD_SUBREAPER)"))?;
    let old_mask = signal::block_all().map_err(Error::io("block signals"))?;
    let result = signal::signalfd_all()
        .map_err(Error::io("signalfd"))
        .and_then(|sigfd| f(sigfd.as_fd()));
    let _ = signal::restore_mask(&old_mask);
    result
}

/// Waits for `pid` to exit while relaying the terminal (when `terminal` is given) and the
/// container's sd_notify messages (when `notify` is), and forwarding signals; returns its
/// exit status.
pub(crate) fn attend(
    pid: i32,
    sigfd: BorrowedFd<'_>,
    terminal: Option<Relay<'_>>,
    notify: Option<&notify::Relay>,
) -> Result<i32, Error> {
    supervise(pid, sigfd, terminal, notify)
}

/// Reaps children that have already exited.
pub(crate) fn reap_exited() {
    while let Ok(Some(_)) = sysproc::waitpid(-1, libc::WNOHANG) {}
}

/// Releases the init and waits until it has executed the container's program.
pub(crate) fn start(channel: &crate::process::channel::ParentEnd) -> Result<(), Error> {
    use crate::process::channel::ChannelError;
    channel.start().map_err(|e| match e {
        ChannelError::Failed(msg) => Error::Usage(msg),
        other => Error::Usage(format!("start the container: {other}")),
    })
}

/// The caller's terminal tied to the container's pty. Made before the container's process
/// runs, so that it starts with the caller's window size.
pub(crate) struct Relay<'a> {
    master: BorrowedFd<'a>,
    stdin: BorrowedFd<'a>,
    stdout: BorrowedFd<'a>,
    /// The caller's terminal mode, restored at the end.
    saved_mode: Option<pty::Mode>,
    stdin_open: bool,
}

impl<'a> Relay<'a> {
    /// The relay of a container process that has a pty (`master`), none without one.
    pub(crate) fn for_pty(master: Option<&'a OwnedFd>) -> Option<Self> {
        master.map(|m| Relay::new(m.as_fd()))
    }

    /// Gives the pty the caller's window size and puts the caller's terminal in raw mode
    /// (restored on drop).
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
        while poll::readable(&[Some(self.master)], Some(Duration::ZERO)).is_ok_and(|r| r[0])
            && Self::pump(self.master, self.stdout)
        {}
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
fn supervise(
    init: i32,
    sigfd: BorrowedFd<'_>,
    mut relay: Option<Relay<'_>>,
    notify: Option<&notify::Relay>,
) -> Result<i32, Error> {
    let mut master_open = relay.is_some();
    loop {
        let (master, stdin) = match &relay {
            Some(r) => (
                master_open.then_some(r.master),
                r.stdin_open.then_some(r.stdin),
            ),
            None => (None, None),
        };
        let ready = poll::readable(&[Some(sigfd), notify.map(|n| n.fd()), master, stdin], None)
            .map_err(Error::io("poll"))?;
        if let Some(n) = notify.filter(|_| ready[1]) {
            n.forward();
        }
        if let Some(r) = relay.as_mut() {
            if ready[2] && !Relay::pump(r.master, r.stdout) {
                master_open = false;
            }
            if ready[3] && !Relay::pump(r.stdin, r.master) {
                r.stdin_open = false;
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
