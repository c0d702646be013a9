//! `berth attach CONTAINER` and `berth start -a`: a running container's output here, and
//! with `-i` this terminal's input to it; on a terminal, ctrl-p ctrl-q detaches.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use berth_engine::attach::{read_frame, Attached};
use berth_engine::logging::Stream;
use berth_sys::pty;

use crate::context::Context;

/// Attach to a running container's output (and to its stdin when it has one open).
#[derive(clap::Args)]
pub struct Args {
    /// Send nothing to the container's stdin.
    #[arg(long)]
    no_stdin: bool,
    /// Container (name or id).
    container: String,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<i32> {
    let engine = ctx.engine()?;
    let attached = engine.attach(&a.container)?;
    relay(&engine, attached, !a.no_stdin)
}

/// ctrl-p ctrl-q: docker's keys to leave a terminal without stopping the container.
const DETACH: [u8; 2] = [0x10, 0x11];

/// Copies the container's output here and, with `input`, stdin there, until the container
/// ends (its exit status) or the user detaches (0).
pub fn relay(engine: &berth_engine::Engine, a: Attached, input: bool) -> anyhow::Result<i32> {
    let stdin = std::io::stdin();
    let raw = match a.tty && input && pty::is_tty(stdin.as_fd()) {
        true => pty::make_raw(stdin.as_fd()).ok(),
        false => None,
    };
    let detached = Arc::new(AtomicBool::new(false));
    if input && a.stdin {
        let mut to_container = a.stream.try_clone()?;
        let detachable = a.tty;
        let detached = detached.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            let mut last = 0u8;
            loop {
                let n = match std::io::stdin().read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                for (i, &b) in buf[..n].iter().enumerate() {
                    if detachable && [last, b] == DETACH {
                        // What came before the keys still goes; the main thread restores
                        // the terminal on its way out.
                        let _ = to_container.write_all(&buf[..i.saturating_sub(1)]);
                        detached.store(true, Ordering::SeqCst);
                        let _ = to_container.shutdown(std::net::Shutdown::Both);
                        return;
                    }
                    last = b;
                }
                if to_container.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        });
    }
    let mut from = a.stream.try_clone()?;
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    loop {
        if a.tty {
            let mut buf = [0u8; 8192];
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
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
            Ok(None) | Err(_) => break,
        }
    }
    if let Some(mode) = &raw {
        let _ = pty::restore_mode(stdin.as_fd(), mode);
    }
    // The monitor closes its clients when the container ends; a detach closes it here.
    match detached.load(Ordering::SeqCst) {
        true => Ok(0),
        false => Ok(engine.wait(&a.id)?),
    }
}
