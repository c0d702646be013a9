//! A process joining a running container (`exec`): it enters every namespace of the
//! container's init at once through the init's pidfd, forks (a pid or time namespace only
//! applies to children), and the child takes the same last steps as an init.

use super::channel::ChildEnd;
use super::finish::{self, Final};
use super::CgroupJoin;
use crate::init::error::{Context, InitError};
use crate::init::{attrs, rootfs};
use crate::security::Seccomp;
use berth_sys::{fs as sysfs, ns, process as sysproc};
use oci_spec::runtime::Process;
use std::convert::Infallible;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

/// Everything an exec'd process needs, prepared by the runtime before forking.
pub struct Tenant<'a> {
    /// The process to run.
    pub process: &'a Process,
    /// The container's seccomp filter.
    pub seccomp: Option<&'a Seccomp>,
    /// Keep the runtime's supplementary groups (`run.oci.keep_original_groups`).
    pub keep_groups: bool,
    /// A pidfd on the container's init, whose namespaces are joined.
    pub init: BorrowedFd<'a>,
    /// `CLONE_NEW*` flags of the namespaces to join.
    pub namespaces: libc::c_int,
    /// The init's root, for a container without a mount namespace of its own: its root
    /// is not its namespace's.
    pub root: Option<BorrowedFd<'a>>,
    /// The container's `linux.personality`, as personality(2)'s argument.
    pub personality: Option<libc::c_ulong>,
    pub console_socket: Option<OwnedFd>,
    pub relay_terminal: bool,
    pub preserve_fds: u32,
    pub cgroup: Option<&'a dyn CgroupJoin>,
}

/// Entry point of the forked child. Never returns.
pub fn run(t: &Tenant<'_>, chan: ChildEnd) -> ! {
    let mut started = None;
    let Err(e) = setup_and_exec(t, &chan, &mut started);
    finish::report_and_exit(&e, &chan, started)
}

fn setup_and_exec(
    t: &Tenant<'_>,
    chan: &ChildEnd,
    started: &mut Option<OwnedFd>,
) -> Result<Infallible, InitError> {
    let mut keep = vec![chan.raw_fd(), t.init.as_raw_fd()];
    keep.extend(t.root.map(|r| r.as_raw_fd()));
    keep.extend(t.console_socket.as_ref().map(|s| s.as_raw_fd()));
    let tasks = t.cgroup.map(|c| c.tasks_files()).unwrap_or_default();
    keep.extend(tasks.iter().map(|f| f.as_raw_fd()));
    finish::begin(c"berth:exec", t.preserve_fds, &keep)?;
    finish::undumpable()?;
    super::join_self(&tasks).ctx(|| "join the container's cgroup")?;
    let proc = sysfs::open(Path::new("/proc"), libc::O_PATH | libc::O_DIRECTORY, 0)
        .ctx(|| "open /proc")?;
    let agent = match t.seccomp {
        Some(s) => s.connect_agent()?,
        None => None,
    };
    chan.wait_for_proceed().ctx(|| "wait for the runtime")?;
    ns::setns(t.init, t.namespaces).ctx(|| "join the container's namespaces")?;
    if let Some(root) = t.root {
        rootfs::chroot(root)?;
    }
    // SAFETY: the runtime is single-threaded, so the child may go on running Rust code.
    match unsafe { sysproc::clone3(&sysproc::CloneArgs::default()) }
        .ctx(|| "fork into the container")?
    {
        sysproc::Forked::Child => {
            // The fork cleared the parent-death signal; the runtime is now our grandparent.
            if !crate::protection::off("dumpable") {
                sysproc::prctl(libc::PR_SET_DUMPABLE, 0).ctx(|| "prctl(PR_SET_DUMPABLE)")?;
            }
            // Our own pid, before `ready`: sent by the parent it could arrive after it.
            let pid = crate::security::host_pid(proc.as_fd())?;
            chan.init_pid(pid).ctx(|| "report the pid")?;
        }
        sysproc::Forked::Parent { .. } => sysproc::exit_now(0),
    }
    attrs::rlimits(t.process)?;
    if let Some(persona) = t.personality {
        attrs::set_personality(persona)?;
    }
    if let Some(adj) = t.process.oom_score_adj() {
        attrs::write_proc(proc.as_fd(), "self/oom_score_adj", &adj.to_string())?;
    }
    finish::finish(
        Final {
            process: t.process,
            seccomp: t.seccomp,
            agent,
            status: crate::state::Status::Running,
            console_socket: t.console_socket.as_ref().map(|s| s.as_fd()),
            relay_terminal: t.relay_terminal,
            console_mount: false,
            keyring: None,
            keep_groups: t.keep_groups,
            proc,
            fifo: None,
            after_start: &|_| Ok(()),
        },
        chan,
        started,
    )
}
