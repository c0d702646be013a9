//! Pseudo-terminals and terminal modes.

use crate::{cpath, cvt};
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

/// Opens a new pty master from the `ptmx` at `ptmx` and unlocks its slave.
pub fn open_master(ptmx: &Path) -> io::Result<OwnedFd> {
    let c = cpath(ptmx)?;
    // SAFETY: valid C string; returns a new fd or -1.
    let fd =
        cvt(unsafe { libc::open(c.as_ptr(), libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) })?;
    // SAFETY: fresh fd.
    let master = unsafe { OwnedFd::from_raw_fd(fd) };
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads one int.
    cvt(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) })?;
    Ok(master)
}

/// Opens the slave of `master` by fd (`TIOCGPTPEER`), never by a path that could be swapped.
pub fn open_peer(master: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    // SAFETY: TIOCGPTPEER takes open flags and returns a new fd or -1.
    let fd = cvt(unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    })?;
    // SAFETY: fresh fd.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Makes `tty` the controlling terminal of the calling session leader.
pub fn set_controlling(tty: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: TIOCSCTTY takes an int argument.
    cvt(unsafe { libc::ioctl(tty.as_raw_fd(), libc::TIOCSCTTY, 0) }).map(drop)
}

/// Terminal size in rows and columns.
pub fn window_size(tty: BorrowedFd<'_>) -> io::Result<(u16, u16)> {
    let mut ws = MaybeUninit::<libc::winsize>::uninit();
    // SAFETY: TIOCGWINSZ fills a winsize.
    cvt(unsafe { libc::ioctl(tty.as_raw_fd(), libc::TIOCGWINSZ, ws.as_mut_ptr()) })?;
    // SAFETY: filled by the kernel.
    let ws = unsafe { ws.assume_init() };
    Ok((ws.ws_row, ws.ws_col))
}

/// Sets the terminal size in rows and columns.
pub fn set_window_size(tty: BorrowedFd<'_>, rows: u16, cols: u16) -> io::Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize.
    cvt(unsafe { libc::ioctl(tty.as_raw_fd(), libc::TIOCSWINSZ, &ws) }).map(drop)
}

/// Whether `fd` is a terminal.
pub fn is_tty(fd: BorrowedFd<'_>) -> bool {
    // SAFETY: plain call.
    unsafe { libc::isatty(fd.as_raw_fd()) == 1 }
}

/// Saved terminal attributes, restored with [`restore_mode`].
#[derive(Clone, Copy)]
pub struct Mode(libc::termios);

/// Puts `tty` in raw mode and returns the previous mode.
pub fn make_raw(tty: BorrowedFd<'_>) -> io::Result<Mode> {
    let mut t = MaybeUninit::<libc::termios>::uninit();
    // SAFETY: tcgetattr fills the struct.
    cvt(unsafe { libc::tcgetattr(tty.as_raw_fd(), t.as_mut_ptr()) })?;
    // SAFETY: filled by tcgetattr.
    let old = unsafe { t.assume_init() };
    let mut raw = old;
    // SAFETY: cfmakeraw edits a valid termios in place.
    unsafe { libc::cfmakeraw(&mut raw) };
    // SAFETY: `raw` is a valid termios.
    cvt(unsafe { libc::tcsetattr(tty.as_raw_fd(), libc::TCSANOW, &raw) })?;
    Ok(Mode(old))
}

/// Restores a mode saved by [`make_raw`].
pub fn restore_mode(tty: BorrowedFd<'_>, mode: &Mode) -> io::Result<()> {
    // SAFETY: `mode.0` is a valid termios.
    cvt(unsafe { libc::tcsetattr(tty.as_raw_fd(), libc::TCSANOW, &mode.0) }).map(drop)
}
