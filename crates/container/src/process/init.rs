//! The container's init: the first process inside the container. It finishes the namespaces,
//! builds the root, becomes the container's user, reports ready, waits for `start`, and
//! executes the container's program. Any failure is sent to the parent, then it exits.

use super::channel::ChildEnd;
use super::namespaces::Plan;
use super::{intermediate, Launch, StartSignal};
use crate::hooks::{self, HookState};
use crate::init::error::{Context, InitError};
use crate::init::{attrs, console, exec, identity, mounts, rootfs};
use crate::state::Status;
use berth_sys::{fs as sysfs, ids, ns, process as sysproc, signal};
use oci_spec::runtime::{Process, Spec};
use std::convert::Infallible;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::Path;

/// Entry point of the forked child. Never returns.
pub fn run(l: &Launch<'_>, plan: &Plan, chan: ChildEnd) -> ! {
    // After `start` through the fifo, errors go back on the fifo, which `start` reads until
    // the exec closes it; before that, on the channel.
    let mut started: Option<OwnedFd> = None;
    let Err(e) = setup_and_exec(l, plan, &chan, &mut started);
    match &started {
        Some(w) => {
            let _ = sysfs::write_all(w.as_fd(), format!("{e}").as_bytes());
        }
        None => chan.failed(&e.to_string()),
    }
    sysproc::exit_now(1)
}

/// Fds opened from the host before anything of the container is touched.
struct HostFds {
    /// The host's procfs: `/proc` writes go here, not through the container's mounts.
    proc: OwnedFd,
    /// `O_PATH` handle on the exec fifo.
    fifo: Option<OwnedFd>,
}

fn open_host(l: &Launch<'_>) -> Result<HostFds, InitError> {
    let proc = sysfs::open(Path::new("/proc"), libc::O_PATH | libc::O_DIRECTORY, 0)
        .ctx(|| "open /proc")?;
    if sysfs::fs_magic(proc.as_fd()).ctx(|| "statfs /proc")? != sysfs::PROC_SUPER_MAGIC {
        return Err(InitError::check("/proc", "is not procfs"));
    }
    let fifo = match &l.start {
        StartSignal::Fifo(p) => {
            Some(sysfs::open(p, libc::O_PATH, 0).ctx(|| format!("open {}", p.display()))?)
        }
        StartSignal::Channel => None,
    };
    Ok(HostFds { proc, fifo })
}

fn process(spec: &Spec) -> Result<&Process, InitError> {
    spec.process()
        .as_ref()
        .ok_or_else(|| InitError::check("process", "missing"))
}

fn setup_and_exec(
    l: &Launch<'_>,
    plan: &Plan,
    chan: &ChildEnd,
    started: &mut Option<OwnedFd>,
) -> Result<Infallible, InitError> {
    let _ = sysproc::set_name(c"berth:init");
    // Until ready: die with the runtime, so a killed `create` leaves no process behind.
    sysproc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong)
        .ctx(|| "prctl(PR_SET_PDEATHSIG)")?;
    // Not dumpable: no process in the container may open our /proc/PID/exe, fds or memory.
    sysproc::prctl(libc::PR_SET_DUMPABLE, 0).ctx(|| "prctl(PR_SET_DUMPABLE)")?;
    let mut keep: Vec<RawFd> = (3..3 + l.preserve_fds as RawFd).collect();
    keep.push(chan.raw_fd());
    if let Some(s) = &l.console_socket {
        keep.push(s.as_raw_fd());
    }
    sysfs::close_all_except(&keep).ctx(|| "close inherited fds")?;
    let host = open_host(l)?;
    chan.wait_for_proceed().ctx(|| "wait for the runtime")?;
    if plan.intermediate {
        intermediate::enter(plan, chan, host.proc.as_fd())?;
    }
    if plan.late_cgroupns {
        ns::unshare(libc::CLONE_NEWCGROUP).ctx(|| "create cgroup namespace")?;
    }
    let spec = l.spec;
    let p = process(spec)?;
    let in_userns = plan.new_user
        || plan
            .joins
            .iter()
            .any(|(t, _)| *t == oci_spec::runtime::LinuxNamespaceType::User);
    if in_userns {
        become_root_if_mapped();
    }
    if let Some(h) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        ns::sethostname(h).ctx(|| format!("sethostname {h:?}"))?;
    }
    if let Some(d) = spec.domainname().as_deref().filter(|d| !d.is_empty()) {
        ns::setdomainname(d).ctx(|| format!("setdomainname {d:?}"))?;
    }
    let runtime_hooks = spec.hooks().as_ref().is_some_and(|h| {
        h.prestart().as_ref().is_some_and(|v| !v.is_empty())
            || h.create_runtime().as_ref().is_some_and(|v| !v.is_empty())
    });
    if plan.new_mount {
        let root = rootfs::prepare(spec, &l.rootfs)?;
        let env = mounts::Env {
            root: root.as_fd(),
            bundle: l.bundle,
            in_userns,
            cgroupns: plan.new_cgroupns,
            cgroups: &l.cgroup_mounts,
        };
        rootfs::populate(spec, &env)?;
        if runtime_hooks {
            chan.run_runtime_hooks()
                .ctx(|| "wait for the runtime's hooks")?;
        }
        container_hooks(l, Status::Creating, |h| h.create_container().clone())?;
        rootfs::enter(root.as_fd(), &l.rootfs, l.no_pivot)?;
        rootfs::lock_down(spec)?;
    } else {
        if runtime_hooks {
            chan.run_runtime_hooks()
                .ctx(|| "wait for the runtime's hooks")?;
        }
        container_hooks(l, Status::Creating, |h| h.create_container().clone())?;
    }
    attrs::sysctls(spec, host.proc.as_fd())?;
    attrs::process(spec, p, host.proc.as_fd())?;
    attrs::rlimits(p)?;
    let master = if p.terminal().unwrap_or(false) {
        let size = p
            .console_size()
            .as_ref()
            .map(|b| (b.height() as u16, b.width() as u16));
        Some(console::setup(size)?)
    } else {
        None
    };
    if let (Some(m), Some(sock)) = (&master, &l.console_socket) {
        console::send_master(sock.as_fd(), m.as_fd())?;
    }
    if l.new_keyring {
        session_keyring(l.id)?;
    }
    sysfs::chdir(p.cwd()).ctx(|| format!("chdir to {}", p.cwd().display()))?;
    identity::switch(p, setgroups_allowed(host.proc.as_fd()))?;
    let env = environment(p);
    let args = args(p)?;
    let path_var = env.iter().find_map(|e| e.strip_prefix("PATH="));
    let program = exec::find(&args[0], path_var)?;

    sysproc::prctl(libc::PR_SET_PDEATHSIG, 0).ctx(|| "prctl(PR_SET_PDEATHSIG)")?;
    let relay = if l.relay_terminal {
        master.as_ref().map(|m| m.as_fd())
    } else {
        None
    };
    chan.ready(relay).ctx(|| "report ready")?;
    drop(master);
    *started = wait_for_start(chan, &host)?;

    container_hooks(l, Status::Created, |h| h.start_container().clone())?;
    if p.no_new_privileges().unwrap_or(false) {
        ids::set_no_new_privs().ctx(|| "prctl(PR_SET_NO_NEW_PRIVS)")?;
    }
    crate::security::apply_seccomp(spec)?;
    for fd in 3..3 + l.preserve_fds as RawFd {
        sysfs::clear_cloexec(fd).ctx(|| format!("preserve fd {fd}"))?;
    }
    drop(host);
    sysfs::cloexec_from(3 + l.preserve_fds).ctx(|| "mark fds close-on-exec")?;
    sysfs::umask(p.user().umask().unwrap_or(0o022));
    signal::reset_dispositions();
    signal::restore_mask(&signal::empty_mask()).ctx(|| "unblock signals")?;
    Err(exec::exec(&program, &args, &env))
}

/// In a user namespace, act as its root for the setup if root is mapped: files the setup
/// creates then belong to a mapped id.
fn become_root_if_mapped() {
    let _ = ids::setresgid(0);
    let _ = ids::setresuid(0);
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
fn setgroups_allowed(proc: std::os::fd::BorrowedFd<'_>) -> bool {
    let Ok(fd) = sysfs::openat(Some(proc), Path::new("self/setgroups"), libc::O_RDONLY, 0) else {
        return true;
    };
    let mut buf = [0u8; 16];
    let n = sysfs::read(fd.as_fd(), &mut buf).unwrap_or(0);
    !buf[..n].starts_with(b"deny")
}

/// Waits for the start signal. With a fifo, returns its write end: it stays open (close-on-
/// exec) so `start` learns of the exec, or of a late error, by reading until end of file.
fn wait_for_start(chan: &ChildEnd, host: &HostFds) -> Result<Option<OwnedFd>, InitError> {
    match &host.fifo {
        Some(fifo) => {
            // Opening the fifo for writing blocks until `start` opens it for reading.
            let path = format!("self/fd/{}", fifo.as_raw_fd());
            let w = sysfs::openat(Some(host.proc.as_fd()), Path::new(&path), libc::O_WRONLY, 0)
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

/// Runs the container-namespace hooks (`createContainer`, `startContainer`).
fn container_hooks(
    l: &Launch<'_>,
    status: Status,
    pick: impl Fn(&oci_spec::runtime::Hooks) -> Option<Vec<oci_spec::runtime::Hook>>,
) -> Result<(), InitError> {
    let Some(list) = l.spec.hooks().as_ref().and_then(pick) else {
        return Ok(());
    };
    let kind = if status == Status::Creating {
        "createContainer"
    } else {
        "startContainer"
    };
    let state = HookState {
        oci_version: l.spec.version(),
        id: l.id,
        status,
        pid: Some(sysproc::getpid()),
        bundle: l.bundle,
        annotations: l.spec.annotations().clone().unwrap_or_default(),
    };
    hooks::run(kind, &list, &state)
        .map_err(|e| InitError::check(format!("{kind} hooks"), e.to_string()))
}
