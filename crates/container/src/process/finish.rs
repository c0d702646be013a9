//! The last steps shared by a container's init and a process started by `exec`: terminal,
//! keyring, working directory, user and capabilities, readiness, the start signal,
//! no_new_privs, seccomp, fds, and the exec itself.

use super::channel::ChildEnd;
use crate::init::error::{Context, InitError};
use crate::init::{console, exec, identity};
use crate::security::Seccomp;
use crate::state::Status;
use berth_seccomp::ListenerSocket;
use berth_sys::{fs as sysfs, ids, process as sysproc, signal};
use oci_spec::runtime::Process;
use std::convert::Infallible;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;

/// What the last steps need.
pub struct Final<'a> {
    pub process: &'a Process,
    /// The container's seccomp filter (it applies to every process in the container), and
    /// the connection to its NOTIFY agent.
    pub seccomp: Option<&'a Seccomp>,
    pub agent: Option<ListenerSocket>,
    /// The container's status while this process is set up (creating for the init, running
    /// for an exec'd process), for the NOTIFY agent.
    pub status: Status,
    pub console_socket: Option<BorrowedFd<'a>>,
    /// Send the pty master to the parent instead of a console socket.
    pub relay_terminal: bool,
    /// The terminal is also the container's `/dev/console`: the init's is; an exec'd
    /// process's is its stdio only (runc's rule), or a second `exec -t` would find the
    /// first one's console mounted there.
    pub console_mount: bool,
    /// Keep the runtime's supplementary groups (`run.oci.keep_original_groups`).
    pub keep_groups: bool,
    /// Join a new session keyring with this name.
    pub keyring: Option<&'a str>,
    /// The host's procfs, opened before anything of the container was touched.
    pub proc: OwnedFd,
    /// `O_PATH` handle on the exec fifo (`create`); without it the start signal comes on the
    /// channel.
    pub fifo: Option<OwnedFd>,
    /// Runs between the start signal and the exec (startContainer hooks), with the
    /// process's environment.
    pub after_start: &'a dyn Fn(&[String]) -> Result<(), InitError>,
}

/// The first steps of a forked stage: name it (so `ps` shows which stage hangs), die with the
/// runtime until ready (a killed `create` leaves no process behind), close every inherited fd
/// but `--preserve-fds` and `keep`, and mark `keep` close-on-exec (everything opened later
/// is), so that nothing is left to do about fds after the seccomp filter. The stage becomes
/// non-dumpable ([`undumpable`]) before anything of the container runs.
pub fn begin(name: &std::ffi::CStr, preserve_fds: u32, keep: &[RawFd]) -> Result<(), InitError> {
    let _ = sysproc::set_name(name);
    sysproc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong)
        .ctx(|| "prctl(PR_SET_PDEATHSIG)")?;
    if !crate::protection::off("close-fds") {
        let mut all: Vec<RawFd> = (3..3 + preserve_fds as RawFd).collect();
        all.extend_from_slice(keep);
        sysfs::close_all_except(&all).ctx(|| "close inherited fds")?;
        sysfs::cloexec_from(3 + preserve_fds).ctx(|| "mark fds close-on-exec")?;
    }
    Ok(())
}

/// No process in the container may open our /proc/PID/exe, fds or memory. The init does
/// this once the runtime lets it proceed, not at its start: until then an unprivileged
/// runtime writes its /proc/PID/uid_map (or newuidmap does, as the user), which a
/// non-dumpable process's root-owned /proc files forbid.
pub fn undumpable() -> Result<(), InitError> {
    if crate::protection::off("dumpable") {
        return Ok(());
    }
    sysproc::prctl(libc::PR_SET_DUMPABLE, 0)
        .map(drop)
        .ctx(|| "prctl(PR_SET_DUMPABLE)")
}

/// Reports a failure where the waiting side listens, then exits. After `start` through the
/// fifo that is the fifo, which `start` reads until the exec closes it; before, the channel.
pub fn report_and_exit(e: &InitError, chan: &ChildEnd, started: Option<OwnedFd>) -> ! {
    match &started {
        Some(w) => {
            let _ = sysfs::write_all(w.as_fd(), e.to_string().as_bytes());
        }
        None => chan.failed(&e.to_string(), e.program_fault()),
    }
    sysproc::exit_now(1)
}

/// Runs the last steps and executes the process. `started` receives the fifo's write end
/// once the start signal came through it.
///
/// The seccomp filter goes on as late as the kernel and the agent allow, and everything the
/// container's process inherits is settled before it, so that a profile need allow no more
/// than the exec (and, where the filter must go on earlier, what follows it; see SECCOMP.md).
pub fn finish(
    f: Final<'_>,
    chan: &ChildEnd,
    started: &mut Option<OwnedFd>,
) -> Result<Infallible, InitError> {
    let p = f.process;
    let master = if p.terminal().unwrap_or(false) {
        let size = p
            .console_size()
            .as_ref()
            .map(|b| (b.height() as u16, b.width() as u16));
        Some(console::setup(size, f.console_mount)?)
    } else {
        None
    };
    if let (Some(m), Some(sock)) = (&master, f.console_socket) {
        console::send_master(sock, m.as_fd())?;
    }
    if let Some(name) = f.keyring {
        session_keyring(name)?;
    }
    sysfs::chdir(p.cwd()).ctx(|| format!("chdir to {}", p.cwd().display()))?;
    sysfs::umask(p.user().umask().unwrap_or(0o022));
    signal::restore_mask(&signal::empty_mask()).ctx(|| "unblock signals")?;
    let mut handoff = match (f.seccomp, f.agent) {
        (Some(s), Some(agent)) => Some(s.handoff(agent, f.proc.as_fd(), f.status)?),
        _ => None,
    };
    // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN, which the user switch may
    // drop: then the filter goes on now (as runc does).
    let nnp = p.no_new_privileges().unwrap_or(false);
    let mut seccomp = f.seccomp;
    if !nnp {
        if let Some(s) = seccomp.take() {
            s.install(handoff.take())?;
        }
    }
    let groups = if f.keep_groups {
        identity::Groups::Keep
    } else if setgroups_allowed(f.proc.as_fd()) {
        identity::Groups::Set
    } else {
        identity::Groups::Denied
    };
    identity::switch(p, groups)?;
    let env = environment(p);
    let args = args(p)?;
    let path_var = env.iter().find_map(|e| e.strip_prefix("PATH="));
    let program = exec::find(&args[0], path_var)?;
    let exec = exec::prepare(&program, &args, &env)?;
    sysproc::prctl(libc::PR_SET_PDEATHSIG, 0).ctx(|| "prctl(PR_SET_PDEATHSIG)")?;
    if nnp {
        ids::set_no_new_privs().ctx(|| "prctl(PR_SET_NO_NEW_PRIVS)")?;
        // An agent holds the listener once `create` returns, as clients expect (crun does the
        // same): its filter goes on before ready.
        if handoff.is_some() {
            if let Some(s) = seccomp.take() {
                s.install(handoff.take())?;
            }
        }
    }
    let relay = if f.relay_terminal {
        master.as_ref().map(|m| m.as_fd())
    } else {
        None
    };
    chan.ready(relay).ctx(|| "report ready")?;
    drop(master);
    *started = wait_for_start(chan, f.proc.as_fd(), f.fifo.as_ref())?;
    (f.after_start)(&env)?;
    // Dispositions last: the init must survive a hook that closed its stdin (SIGPIPE).
    // A filter that refuses this leaves only what Rust ignores ignored.
    signal::reset_dispositions();
    drop(f.fifo);
    drop(f.proc);
    if let Some(s) = seccomp {
        s.install(None)?;
    }
    Err(exec.run())
}

/// A session keyring named after the container, usable by the container's user and root.
fn session_keyring(id: &str) -> Result<(), InitError> {
    let name = berth_sys::cstring(id.as_bytes()).ctx(|| "keyring name")?;
    match sysproc::join_session_keyring(&name) {
        // Kernels without keys, or where the syscall is filtered: nothing to isolate.
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS) | Some(libc::EPERM)) => Ok(()),
        Err(e) => Err(e).ctx(|| "join a new session keyring"),
        // possessor: all; user: view, read, write, search, link; group and other: none.
        Ok(serial) => {
            sysproc::set_key_permissions(serial, 0x3f1f_0000).ctx(|| "set keyring permissions")
        }
    }
}

/// `setgroups` is usable unless this user namespace's `setgroups` file says deny.
fn setgroups_allowed(proc: BorrowedFd<'_>) -> bool {
    let Ok(fd) = sysfs::openat(Some(proc), Path::new("self/setgroups"), libc::O_RDONLY, 0) else {
        return true;
    };
    let mut buf = [0u8; 16];
    let n = sysfs::read(fd.as_fd(), &mut buf).unwrap_or(0);
    !buf[..n].starts_with(b"deny")
}

/// Waits for the start signal. With a fifo, returns its write end: it stays open (close-on-
/// exec) so `start` learns of the exec, or of a late error, by reading until end of file.
fn wait_for_start(
    chan: &ChildEnd,
    proc: BorrowedFd<'_>,
    fifo: Option<&OwnedFd>,
) -> Result<Option<OwnedFd>, InitError> {
    match fifo {
        Some(fifo) => {
            // Opening the fifo for writing blocks until `start` opens it for reading.
            let path = format!("self/fd/{}", fifo.as_raw_fd());
            let w = sysfs::openat(Some(proc), Path::new(&path), libc::O_WRONLY, 0)
                .ctx(|| "open the exec fifo")?;
            sysfs::write_all(w.as_fd(), b"0").ctx(|| "write the exec fifo")?;
            Ok(Some(w))
        }
        None => chan
            .wait_for_start()
            .ctx(|| "wait for start")
            .map(|()| None),
    }
}

fn args(p: &Process) -> Result<Vec<String>, InitError> {
    match p.args().as_ref().filter(|a| !a.is_empty()) {
        Some(a) => Ok(a.clone()),
        None => Err(InitError::check("process.args", "empty")),
    }
}

/// The process's environment; `HOME` from the container's passwd file when the config has none.
fn environment(p: &Process) -> Vec<String> {
    let mut env = p.env().clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!(
            "HOME={}",
            home_of(p.user().uid()).unwrap_or_else(|| "/".into())
        ));
    }
    env
}

fn home_of(uid: u32) -> Option<String> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 6 && f[2].parse() == Ok(uid)).then(|| f[5].to_string())
    })
}
