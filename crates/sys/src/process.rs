//! Processes: `clone3`, pidfds, waiting, `prctl`, and per-process attributes (rlimits,
//! personality, scheduler, I/O priority, OOM score).

use crate::{cvt, cvt_long};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// `CLONE_INTO_CGROUP` (Linux 5.7); libc's constant has the wrong width.
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// What [`clone3`] returned in the calling process.
#[derive(Debug)]
pub enum Forked {
    /// In the parent: the child's pid and, when asked for, a pidfd for it.
    Parent { pid: i32, pidfd: Option<OwnedFd> },
    /// In the child.
    Child,
}

/// Options of [`clone3`].
#[derive(Debug, Default)]
pub struct CloneArgs<'a> {
    /// `CLONE_NEW*` flags.
    pub namespaces: u64,
    /// Ask for a pidfd of the child (`CLONE_PIDFD`).
    pub pidfd: bool,
    /// Start the child in this cgroup v2 directory (`CLONE_INTO_CGROUP`).
    pub cgroup: Option<BorrowedFd<'a>>,
}

/// Forks with `clone3(2)`; the child gets SIGCHLD semantics like `fork`.
///
/// Falls back to `clone(2)` where `clone3` is missing (ENOSYS) and no cgroup was asked for.
///
/// # Safety
/// The caller must be single-threaded: the child continues with a copy of this process's
/// memory in which no other thread holds a lock (allocator, stdio).
pub unsafe fn clone3(args: &CloneArgs<'_>) -> io::Result<Forked> {
    let mut pidfd: RawFd = -1;
    let mut flags = args.namespaces;
    if args.pidfd {
        flags |= libc::CLONE_PIDFD as u64;
    }
    if args.cgroup.is_some() {
        flags |= CLONE_INTO_CGROUP;
    }
    // SAFETY: clone_args is plain data; zero is the valid default of every field.
    let mut ca: libc::clone_args = unsafe { std::mem::zeroed() };
    ca.flags = flags;
    ca.exit_signal = libc::SIGCHLD as u64;
    ca.pidfd = &mut pidfd as *mut RawFd as u64;
    ca.cgroup = args.cgroup.map_or(0, |fd| fd.as_raw_fd() as u64);
    // SAFETY: `ca` is valid for the call; with no stack given the child runs on a copy of our
    // stack, like fork. The caller guarantees single-threadedness.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut ca as *mut libc::clone_args,
            std::mem::size_of::<libc::clone_args>(),
        )
    };
    let ret = match cvt_long(ret) {
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) && args.cgroup.is_none() => {
            // SAFETY: clone(2) without a new stack behaves as fork with extra flags.
            cvt_long(unsafe {
                libc::syscall(
                    libc::SYS_clone,
                    flags | libc::SIGCHLD as u64,
                    0usize,
                    &mut pidfd as *mut RawFd,
                    0usize,
                    0usize,
                )
            })?
        }
        r => r?,
    };
    if ret == 0 {
        return Ok(Forked::Child);
    }
    let pidfd = (args.pidfd && pidfd >= 0).then(|| {
        // SAFETY: the kernel stored a fresh pidfd for us.
        unsafe { OwnedFd::from_raw_fd(pidfd) }
    });
    Ok(Forked::Parent {
        pid: ret as i32,
        pidfd,
    })
}

/// `pidfd_open(pid, 0)`.
pub fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall; returns a new fd or -1.
    let fd = cvt_long(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })?;
    // SAFETY: fresh fd.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// `pidfd_send_signal(pidfd, sig, NULL, 0)`.
pub fn pidfd_send_signal(pidfd: BorrowedFd<'_>, sig: i32) -> io::Result<()> {
    // SAFETY: plain syscall on a valid pidfd.
    cvt_long(unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    })
    .map(drop)
}

/// `kill(pid, sig)`.
pub fn kill(pid: i32, sig: i32) -> io::Result<()> {
    // SAFETY: plain syscall.
    cvt(unsafe { libc::kill(pid, sig) }).map(drop)
}

/// How a child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

impl Exit {
    /// The shell convention: the code, or 128 + the signal number.
    pub fn status(self) -> i32 {
        match self {
            Exit::Code(c) => c,
            Exit::Signal(s) => 128 + s,
        }
    }

    fn from_wait_status(st: libc::c_int) -> Self {
        if libc::WIFSIGNALED(st) {
            Exit::Signal(libc::WTERMSIG(st))
        } else {
            Exit::Code(libc::WEXITSTATUS(st))
        }
    }
}

/// `waitpid(pid, flags)`; `Ok(None)` when `WNOHANG` found nothing. Retries EINTR.
pub fn waitpid(pid: i32, flags: libc::c_int) -> io::Result<Option<(i32, Exit)>> {
    let mut st = 0;
    // SAFETY: `st` is a valid out-pointer.
    let r = crate::retry_eintr(|| unsafe { libc::waitpid(pid, &mut st, flags) })?;
    Ok((r != 0).then(|| (r, Exit::from_wait_status(st))))
}

/// `prctl(option, arg2, 0, 0, 0)`.
pub fn prctl(option: libc::c_int, arg2: libc::c_ulong) -> io::Result<libc::c_int> {
    // SAFETY: plain syscall with integer arguments.
    cvt(unsafe { libc::prctl(option, arg2, 0, 0, 0) })
}

/// Names the calling thread (`ps` shows it), so a hung stage says which one it is.
pub fn set_name(name: &std::ffi::CStr) -> io::Result<()> {
    // SAFETY: PR_SET_NAME reads at most 16 bytes from a NUL-terminated string.
    cvt(unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr(), 0, 0, 0) }).map(drop)
}

/// `setrlimit(resource, soft, hard)`.
pub fn setrlimit(resource: u32, soft: u64, hard: u64) -> io::Result<()> {
    let lim = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: `lim` is valid for the call.
    cvt(unsafe { libc::setrlimit(resource as _, &lim) }).map(drop)
}

/// `getrlimit(resource)` as `(soft, hard)`.
pub fn getrlimit(resource: u32) -> io::Result<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid out-pointer.
    cvt(unsafe { libc::getrlimit(resource as _, &mut lim) })?;
    Ok((lim.rlim_cur, lim.rlim_max))
}

/// `personality(persona)`.
pub fn personality(persona: libc::c_ulong) -> io::Result<()> {
    // SAFETY: plain syscall.
    cvt(unsafe { libc::personality(persona) }).map(drop)
}

/// The kernel's `struct sched_attr` (size 56, SCHED_ATTR_SIZE_VER1).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct SchedAttr {
    pub size: u32,
    pub policy: u32,
    pub flags: u64,
    pub nice: i32,
    pub priority: u32,
    pub runtime: u64,
    pub deadline: u64,
    pub period: u64,
    pub util_min: u32,
    pub util_max: u32,
}

/// `sched_setattr(0, attr, 0)` for the calling thread.
pub fn sched_setattr(attr: &SchedAttr) -> io::Result<()> {
    let mut a = *attr;
    a.size = std::mem::size_of::<SchedAttr>() as u32;
    // SAFETY: `a` is a valid sched_attr with its size filled in.
    cvt_long(unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &a as *const SchedAttr, 0) })
        .map(drop)
}

/// `ioprio_set(IOPRIO_WHO_PROCESS, 0, prio)`.
pub fn ioprio_set(class: u32, level: u32) -> io::Result<()> {
    const IOPRIO_WHO_PROCESS: i32 = 1;
    let prio = (class << 13) | level;
    // SAFETY: plain syscall with integer arguments.
    cvt_long(unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, prio) }).map(drop)
}

/// `setsid()`.
pub fn setsid() -> io::Result<()> {
    // SAFETY: plain syscall.
    cvt(unsafe { libc::setsid() }).map(drop)
}

/// This process's pid.
pub fn getpid() -> i32 {
    // SAFETY: cannot fail.
    unsafe { libc::getpid() }
}

/// Forks once more and leaves the parent at once (`_exit(0)`), so that the calling child
/// of a spawn is no long-lived process's child: whoever spawned it reaps only the
/// short-lived middle, and the rest is reparented to the nearest subreaper. For `pre_exec`,
/// after a fork: only async-signal-safe calls.
pub fn detach_from_parent() -> io::Result<()> {
    // SAFETY: fork has no preconditions; the parent side only calls _exit.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(()),
        _ => exit_now(0),
    }
}

/// `_exit(code)`: leaves without running atexit handlers or destructors, which belong to the
/// parent's copy of the memory after a fork.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: terminates the process.
    unsafe { libc::_exit(code) }
}

/// Joins a new session keyring named `name` (`KEYCTL_JOIN_SESSION_KEYRING`), so the container
/// does not share the caller's keys. Returns the keyring's serial.
pub fn join_session_keyring(name: &std::ffi::CStr) -> io::Result<i64> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: valid C string; returns a key serial or -1.
    cvt_long(unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) })
}

/// `KEYCTL_SETPERM` on key `serial`.
pub fn set_key_permissions(serial: i64, perm: u32) -> io::Result<()> {
    const KEYCTL_SETPERM: libc::c_long = 5;
    // SAFETY: plain syscall with integer arguments.
    cvt_long(unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_SETPERM, serial, perm) }).map(drop)
}

/// Gives the kernel back the pages of this thread's stack that lie more than `keep` bytes
/// below the caller's frame: what deeper calls used once and no call of a long idle process
/// reaches again. A later call that goes that deep finds zeroed pages, as on first use. For
/// the main thread only (its stack is the `[stack]` mapping); a no-op when that is not found.
pub fn release_stack_below(keep: usize) -> io::Result<()> {
    let here = 0u8;
    let sp = std::hint::black_box(&here) as *const u8 as usize;
    let maps = std::fs::read_to_string("/proc/self/maps")?;
    let Some(low) = maps.lines().find(|l| l.ends_with("[stack]")).and_then(|l| {
        let (range, _) = l.split_once(' ')?;
        let (low, high) = range.split_once('-')?;
        let (low, high) = (
            usize::from_str_radix(low, 16).ok()?,
            usize::from_str_radix(high, 16).ok()?,
        );
        (low..high).contains(&sp).then_some(low)
    }) else {
        return Ok(());
    };
    let end = sp.saturating_sub(keep) & !4095;
    if end <= low {
        return Ok(());
    }
    // SAFETY: [low, end) is below this frame by `keep` bytes, more than this function and
    // the madvise call below it use: no live frame is there, and MADV_DONTNEED only makes
    // those anonymous pages read as zero when touched again.
    cvt(unsafe { libc::madvise(low as *mut libc::c_void, end - low, libc::MADV_DONTNEED) })
        .map(drop)
}
