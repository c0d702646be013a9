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

/// Which of the container's output streams a chunk came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// A caller that takes the container's output itself (an engine keeping a log) instead of
/// leaving it on the inherited stdout and stderr: the container writes into pipes whose read
/// ends this gives, and gets each chunk read from them. With a terminal, the pty's output
/// arrives here as stdout.
pub trait Output {
    /// The read ends of the pipes on the container's stdout and stderr.
    fn pipes(&self) -> [Option<BorrowedFd<'_>>; 2];
    /// What the container wrote.
    fn write(&mut self, stream: Stream, data: &[u8]);
    /// Further fds the caller serves while the container runs (an attach socket and its
    /// clients), polled with the rest.
    fn served(&self) -> Vec<BorrowedFd<'_>> {
        Vec::new()
    }
    /// `served()[i]` is readable; returns the window size (rows, columns) that a client asked
    /// the container's terminal to take, if it did.
    fn serve(&mut self, _i: usize) -> Option<(u16, u16)> {
        None
    }
}

/// Waits for `pid` to exit while relaying the terminal (when `terminal` is given), the
/// container's output (to `output`, when given) and its sd_notify messages (when `notify`
/// is), and forwarding signals; returns its exit status.
pub(crate) fn attend(
    pid: i32,
    sigfd: BorrowedFd<'_>,
    terminal: Option<Relay<'_>>,
    notify: Option<&notify::Relay>,
    output: Option<&mut dyn Output>,
) -> Result<i32, Error> {
    supervise(pid, sigfd, terminal, notify, output)
}

/// Reaps children that have already exited.
pub(crate) fn reap_exited() {
    while let Ok(Some(_)) = sysproc::waitpid(-1, libc::WNOHANG) {}
}

/// Releases the init and waits until it has executed the container's program.
pub(crate) fn start(channel: &crate::process::channel::ParentEnd) -> Result<(), Error> {
    use crate::process::channel::ChannelError;
    channel.start().map_err(|e| match e {
        ChannelError::Failed(f) => Error::Usage(f.message),
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
}

/// Moves one chunk from the pty to `output` (as stdout), or without one to `stdout`; false
/// at end of input.
fn take_pty(
    master: BorrowedFd<'_>,
    output: &mut Option<&mut dyn Output>,
    stdout: BorrowedFd<'_>,
) -> bool {
    let mut buf = [0u8; 16384];
    match (sysfs::read(master, &mut buf), output) {
        (Ok(0) | Err(_), _) => false,
        (Ok(n), Some(o)) => {
            o.write(Stream::Stdout, &buf[..n]);
            true
        }
        (Ok(n), None) => sysfs::write_all(stdout, &buf[..n]).is_ok(),
    }
}

/// Moves one chunk from the output's pipe of `stream` to it; false at end of input.
fn take_pipe(output: &mut dyn Output, stream: Stream) -> bool {
    let mut buf = [0u8; 16384];
    let read = match output.pipes()[stream as usize] {
        Some(fd) => sysfs::read(fd, &mut buf),
        None => return false,
    };
    match read {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            output.write(stream, &buf[..n]);
            true
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

/// Waits for the init to exit, forwarding signals to it and relaying the terminal and the
/// output; reaps every other child that is reparented to us.
fn supervise(
    init: i32,
    sigfd: BorrowedFd<'_>,
    mut relay: Option<Relay<'_>>,
    notify: Option<&notify::Relay>,
    mut output: Option<&mut dyn Output>,
) -> Result<i32, Error> {
    // Still open: the pty, the stdout pipe, the stderr pipe.
    let mut open = [relay.is_some(), true, true];
    let streams = [Stream::Stdout, Stream::Stderr];
    loop {
        let (master, stdin) = match &relay {
            Some(r) => (open[0].then_some(r.master), r.stdin_open.then_some(r.stdin)),
            None => (None, None),
        };
        let ready = {
            let pipes = output.as_deref().map_or([None, None], |o| o.pipes());
            let [out, err] = [0, 1].map(|i| pipes[i].filter(|_| open[i + 1]));
            let mut fds = vec![Some(sigfd), notify.map(|n| n.fd()), master, stdin, out, err];
            fds.extend(
                output
                    .as_deref()
                    .into_iter()
                    .flat_map(|o| o.served())
                    .map(Some),
            );
            poll::readable(&fds, None).map_err(Error::io("poll"))?
        };
        if let Some(n) = notify.filter(|_| ready[1]) {
            n.forward();
        }
        if let Some(r) = relay.as_mut() {
            if ready[2] {
                open[0] = take_pty(r.master, &mut output, r.stdout);
            }
            if ready[3] && !Relay::pump(r.stdin, r.master) {
                r.stdin_open = false;
            }
        }
        if let Some(o) = output.as_deref_mut() {
            for (i, stream) in streams.into_iter().enumerate() {
                if ready[4 + i] {
                    open[i + 1] = take_pipe(o, stream);
                }
            }
            for i in (6..ready.len()).filter(|i| ready[*i]) {
                if let (Some((rows, cols)), Some(r)) = (o.serve(i - 6), &relay) {
                    let _ = pty::set_window_size(r.master, rows, cols);
                }
            }
        }
        while let Some(sig) = signal::read_signalfd(sigfd).map_err(Error::io("read signalfd"))? {
            match sig {
                libc::SIGCHLD => {
                    if let Some(code) = reap(init)? {
                        drain(relay.as_ref(), output, open);
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

/// Moves what the exited container left in the pty and the pipes.
fn drain(relay: Option<&Relay<'_>>, mut output: Option<&mut dyn Output>, open: [bool; 3]) {
    let now =
        |fd: BorrowedFd<'_>| poll::readable(&[Some(fd)], Some(Duration::ZERO)).is_ok_and(|r| r[0]);
    if let Some(r) = relay.filter(|_| open[0]) {
        while now(r.master) && take_pty(r.master, &mut output, r.stdout) {}
    }
    if let Some(o) = output {
        for (i, stream) in [Stream::Stdout, Stream::Stderr].into_iter().enumerate() {
            while open[i + 1] && o.pipes()[i].is_some_and(now) && take_pipe(o, stream) {}
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
