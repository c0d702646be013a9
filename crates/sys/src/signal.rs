//! Signals: masks, `signalfd`, dispositions, names.

use crate::cvt;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{FromRawFd, OwnedFd};

/// A saved signal mask, restored with [`restore_mask`].
#[derive(Clone, Copy)]
pub struct Mask(libc::sigset_t);

/// Blocks every signal, returning the previous mask. Done before forking so no signal meant for
/// the container is lost between the fork and the wait loop.
pub fn block_all() -> io::Result<Mask> {
    let mut all = MaybeUninit::<libc::sigset_t>::uninit();
    let mut old = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: valid out-pointers; sigfillset initialises `all`.
    unsafe {
        libc::sigfillset(all.as_mut_ptr());
        cvt(libc::pthread_sigmask(
            libc::SIG_SETMASK,
            all.as_ptr(),
            old.as_mut_ptr(),
        ))?;
        Ok(Mask(old.assume_init()))
    }
}

/// Restores a mask saved by [`block_all`].
pub fn restore_mask(mask: &Mask) -> io::Result<()> {
    // SAFETY: `mask.0` is an initialised sigset.
    cvt(unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &mask.0, std::ptr::null_mut()) })
        .map(drop)
}

/// An empty mask: what a container process starts with.
pub fn empty_mask() -> Mask {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set.
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        Mask(set.assume_init())
    }
}

fn set_of(signals: &[i32]) -> libc::sigset_t {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set; sigaddset leaves it as it was for a number
    // that is not a signal.
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        for &sig in signals {
            libc::sigaddset(set.as_mut_ptr(), sig);
        }
        set.assume_init()
    }
}

/// Blocks `signals` in the calling thread and the threads it starts afterwards, so that only
/// [`wait`] receives them. Returns the previous mask.
pub fn block(signals: &[i32]) -> io::Result<Mask> {
    let set = set_of(signals);
    let mut old = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: an initialised set and a valid out-pointer.
    let r = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, old.as_mut_ptr()) };
    if r != 0 {
        return Err(io::Error::from_raw_os_error(r));
    }
    // SAFETY: pthread_sigmask succeeded and filled `old`.
    Ok(Mask(unsafe { old.assume_init() }))
}

/// Waits for one of `signals` (blocked in every thread) and returns its number.
pub fn wait(signals: &[i32]) -> io::Result<i32> {
    let set = set_of(signals);
    let mut sig = 0;
    // SAFETY: an initialised set and a valid out-pointer.
    match unsafe { libc::sigwait(&set, &mut sig) } {
        0 => Ok(sig),
        e => Err(io::Error::from_raw_os_error(e)),
    }
}

/// A non-blocking, close-on-exec `signalfd` for every signal (all must be blocked already).
pub fn signalfd_all() -> io::Result<OwnedFd> {
    let mut all = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigfillset initialises `all`.
    let all = unsafe {
        libc::sigfillset(all.as_mut_ptr());
        all.assume_init()
    };
    signalfd_of(&all)
}

/// A non-blocking, close-on-exec `signalfd` for `signals` (blocked already, see [`block`]).
pub fn signalfd(signals: &[i32]) -> io::Result<OwnedFd> {
    signalfd_of(&set_of(signals))
}

fn signalfd_of(set: &libc::sigset_t) -> io::Result<OwnedFd> {
    // SAFETY: an initialised set; signalfd returns a new fd or -1.
    let fd = cvt(unsafe { libc::signalfd(-1, set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) })?;
    // SAFETY: fresh fd.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Reads one pending signal number from a signalfd, `None` when nothing is pending.
pub fn read_signalfd(fd: std::os::fd::BorrowedFd<'_>) -> io::Result<Option<i32>> {
    let mut info = MaybeUninit::<libc::signalfd_siginfo>::uninit();
    let size = std::mem::size_of::<libc::signalfd_siginfo>();
    // SAFETY: the buffer is exactly one signalfd_siginfo.
    let buf = unsafe { std::slice::from_raw_parts_mut(info.as_mut_ptr().cast::<u8>(), size) };
    match crate::fs::read(fd, buf) {
        Ok(n) if n == size => {
            // SAFETY: the kernel filled the whole struct.
            Ok(Some(unsafe { info.assume_init() }.ssi_signo as i32))
        }
        Ok(_) => Ok(None),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(e),
    }
}

/// Resets every catchable signal to its default action. An ignored signal stays ignored across
/// exec (Rust ignores SIGPIPE at start-up), and the container must start with defaults.
pub fn reset_dispositions() {
    for sig in 1..libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: setting SIG_DFL is always sound; errors (invalid numbers) are irrelevant.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
        }
    }
}

/// Signal numbers by name, as `kill` accepts them (without the `SIG` prefix).
const NAMES: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("IOT", libc::SIGIOT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("POLL", libc::SIGPOLL),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
];

/// `SIGKILL` for 9; `None` for numbers without a name of their own.
pub fn name(sig: i32) -> Option<String> {
    NAMES
        .iter()
        .find(|(_, n)| *n == sig)
        .map(|(k, _)| format!("SIG{k}"))
}

/// Parses `9`, `KILL`, `SIGKILL`, `sigkill`, `RTMIN+3`, `SIGRTMAX-1`.
pub fn parse(s: &str) -> Option<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return (1..=libc::SIGRTMAX()).contains(&n).then_some(n);
    }
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    if let Some(&(_, n)) = NAMES.iter().find(|(k, _)| *k == name) {
        return Some(n);
    }
    let rt = |base: i32, rest: &str| -> Option<i32> {
        let n = if rest.is_empty() {
            base
        } else {
            base + rest.parse::<i32>().ok()?
        };
        (libc::SIGRTMIN()..=libc::SIGRTMAX())
            .contains(&n)
            .then_some(n)
    };
    if let Some(rest) = name.strip_prefix("RTMIN") {
        return rt(libc::SIGRTMIN(), rest.strip_prefix('+').unwrap_or(rest));
    }
    if let Some(rest) = name.strip_prefix("RTMAX") {
        return rt(libc::SIGRTMAX(), rest);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::{block, name, parse, restore_mask, wait};

    #[test]
    fn a_blocked_signal_waits_for_wait() {
        let previous = block(&[libc::SIGUSR2]).unwrap();
        // SAFETY: raise sends SIGUSR2 to this thread, which blocks it: it stays pending.
        assert_eq!(unsafe { libc::raise(libc::SIGUSR2) }, 0);
        assert_eq!(wait(&[libc::SIGUSR2]).unwrap(), libc::SIGUSR2);
        restore_mask(&previous).unwrap();
    }

    #[test]
    fn signal_names() {
        assert_eq!(parse("9"), Some(9));
        assert_eq!(parse("KILL"), Some(9));
        assert_eq!(parse("SIGTERM"), Some(15));
        assert_eq!(parse("sigusr1"), Some(libc::SIGUSR1));
        assert_eq!(parse("RTMIN+2"), Some(libc::SIGRTMIN() + 2));
        assert_eq!(parse("SIGRTMAX-1"), Some(libc::SIGRTMAX() - 1));
        assert_eq!(parse("0"), None);
        assert_eq!(parse("NOPE"), None);
        assert_eq!(parse("99"), None);
        assert_eq!(name(9).as_deref(), Some("SIGKILL"));
        assert_eq!(name(libc::SIGCHLD).as_deref(), Some("SIGCHLD"));
        assert_eq!(name(40), None);
    }
}
