//! `berth attach CONTAINER` and `berth start -a`: a running container's output here, and
//! with `-i` this terminal's input to it. On a terminal the detach keys (ctrl-p ctrl-q)
//! leave it running and the container's terminal follows this one's size; without one,
//! signals sent here go to the container (`--sig-proxy`).

use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use berth_engine::attach::{read_frame, Attached, DetachKeys, Input, Keyed};
use berth_engine::logging::Stream;
use berth_sys::{poll, pty, signal};

use crate::context::Context;

/// Attach to a running container's output (and to its stdin when it has one open).
#[derive(clap::Args)]
pub struct Args {
    /// Send nothing to the container's stdin.
    #[arg(long)]
    no_stdin: bool,
    #[command(flatten)]
    relay: RelayArgs,
    /// Container (name or id).
    container: String,
}

/// How a client relays: shared by `attach` and `start -a`.
#[derive(clap::Args)]
pub struct RelayArgs {
    /// Keys that detach from a terminal and leave the container running: comma-separated,
    /// each a character or ctrl-X (X: a-z @ [ \ ] ^ _); empty turns detaching off.
    #[arg(long, value_name = "KEYS", default_value = "ctrl-p,ctrl-q")]
    detach_keys: String,
    /// Send the signals this process gets to the container (without a terminal; with one,
    /// ctrl-c is input). --sig-proxy=false leaves them to this process.
    #[arg(long, value_name = "BOOL", default_value_t = true, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    sig_proxy: bool,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<i32> {
    let keys = a.relay.detach_keys()?;
    let engine = ctx.engine()?;
    let attached = engine.attach(&a.container)?;
    relay(&engine, attached, !a.no_stdin, keys, a.relay.sig_proxy())
}

impl RelayArgs {
    /// The detach keys, checked before anything starts.
    pub fn detach_keys(&self) -> anyhow::Result<DetachKeys> {
        Ok(DetachKeys::parse(&self.detach_keys)?)
    }

    pub fn sig_proxy(&self) -> bool {
        self.sig_proxy
    }
}

/// The signals a client passes on: what a user or a supervisor sends to stop or poke it.
const PROXIED: [i32; 7] = [
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGTERM,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGALRM,
];

/// Copies the container's output here and, with `input`, stdin there, until the container
/// ends (its exit status) or the user detaches (0).
pub fn relay(
    engine: &berth_engine::Engine,
    a: Attached,
    input: bool,
    keys: DetachKeys,
    sig_proxy: bool,
) -> anyhow::Result<i32> {
    let stdin = std::io::stdin();
    let terminal = a.tty && pty::is_tty(stdin.as_fd());
    let raw = match terminal && input {
        true => pty::make_raw(stdin.as_fd()).ok(),
        false => None,
    };
    // Taken from a signalfd in the loop below; blocked before the input thread exists, so
    // that it inherits the mask.
    let mut signals = Vec::new();
    if terminal {
        signals.push(libc::SIGWINCH);
    }
    if sig_proxy && !a.tty {
        signals.extend(PROXIED);
    }
    let old_mask = signal::block(&signals)?;
    let sigfd = signal::signalfd(&signals)?;
    let to_container = a.input()?;
    if terminal {
        send_size(&to_container, stdin.as_fd());
    }
    let detached = Arc::new(AtomicBool::new(false));
    if input && a.stdin {
        let (to_container, detached) = (to_container.clone(), detached.clone());
        let keys = match a.tty {
            true => keys,
            false => DetachKeys::off(),
        };
        std::thread::spawn(move || type_into(to_container, keys, &detached));
    }
    let result = copy_output(engine, &a, &to_container, sigfd.as_fd());
    if let Some(mode) = &raw {
        let _ = pty::restore_mode(stdin.as_fd(), mode);
    }
    let _ = signal::restore_mask(&old_mask);
    result?;
    // The monitor closes its clients when the container ends; a detach closes it here.
    match detached.load(Ordering::SeqCst) {
        true => Ok(0),
        false => Ok(engine.wait(&a.id)?),
    }
}

/// Gives the container's terminal the size of ours.
fn send_size(to: &Input, tty: BorrowedFd<'_>) {
    if let Ok((rows, cols)) = pty::window_size(tty) {
        let _ = to.resize(rows, cols);
    }
}

/// The input thread: stdin to the container until it ends or the detach keys come.
fn type_into(to: Input, mut keys: DetachKeys, detached: &AtomicBool) {
    let mut buf = [0u8; 4096];
    loop {
        let n = match std::io::stdin().read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        match keys.scan(&buf[..n]) {
            Keyed::Pass(data) => {
                if to.send(&data).is_err() {
                    return;
                }
            }
            Keyed::Detach(before) => {
                let _ = to.send(&before);
                detached.store(true, Ordering::SeqCst);
                // Ends the output loop; the main thread restores the terminal.
                let _ = to.hang_up();
                return;
            }
        }
    }
}

/// The container's output to stdout and stderr until the connection ends, with the
/// signals that arrive meanwhile passed on.
fn copy_output(
    engine: &berth_engine::Engine,
    a: &Attached,
    to: &Input,
    sigfd: BorrowedFd<'_>,
) -> anyhow::Result<()> {
    let mut from = a.stream.try_clone()?;
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    loop {
        let ready = poll::readable(&[Some(from.as_fd()), Some(sigfd)], None)?;
        if ready[1] {
            while let Some(sig) = signal::read_signalfd(sigfd)? {
                match sig {
                    libc::SIGWINCH => send_size(to, std::io::stdin().as_fd()),
                    // It may have ended meanwhile; its end ends this loop.
                    s => {
                        let _ = engine.signal(&a.id, s);
                    }
                }
            }
        }
        if !ready[0] {
            continue;
        }
        if a.tty {
            let mut buf = [0u8; 8192];
            match from.read(&mut buf) {
                Ok(0) | Err(_) => return Ok(()),
                Ok(n) => {
                    out.write_all(&buf[..n])?;
                    out.flush()?;
                }
            }
            continue;
        }
        match read_frame(&mut from) {
            Ok(Some((Stream::Stdout, data))) => {
                out.write_all(&data)?;
                out.flush()?;
            }
            Ok(Some((Stream::Stderr, data))) => err.write_all(&data)?,
            Ok(None) | Err(_) => return Ok(()),
        }
    }
}
