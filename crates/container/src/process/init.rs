//! The container's init: the first process inside the container. It finishes the namespaces,
//! builds the root, becomes the container's user, reports ready, waits for `start`, and
//! executes the container's program. Any failure is sent to the parent, then it exits.

use super::channel::ChildEnd;
use super::finish::{self, Final};
use super::namespaces::Plan;
use super::{intermediate, Launch, StartSignal};
use crate::hooks::{self, HookState};
use crate::init::error::{Context, InitError};
use crate::init::{attrs, mounts, rootfs};
use crate::state::Status;
use berth_sys::{fs as sysfs, ids, ns, process as sysproc};
use oci_spec::runtime::{Process, Spec};
use std::convert::Infallible;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

/// Entry point of the forked child. Never returns.
pub fn run(l: &Launch<'_>, plan: &Plan, chan: ChildEnd) -> ! {
    let mut started: Option<OwnedFd> = None;
    let Err(e) = setup_and_exec(l, plan, &chan, &mut started);
    finish::report_and_exit(&e, &chan, started)
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
    let mut keep = vec![chan.raw_fd()];
    keep.extend(l.prepared.raw_fds());
    keep.extend(l.console_socket.as_ref().map(|s| s.as_raw_fd()));
    let tasks = l.cgroup.map(|c| c.tasks_files()).unwrap_or_default();
    keep.extend(tasks.iter().map(|f| f.as_raw_fd()));
    finish::begin(c"berth:init", l.preserve_fds, &keep)?;
    // First, so that all it does is the container's (and before the intermediate forks).
    super::join_self(&tasks).ctx(|| "join the container's cgroup")?;
    let host = open_host(l)?;
    let agent = match l.seccomp {
        Some(s) => s.connect_agent()?,
        None => None,
    };
    chan.wait_for_proceed().ctx(|| "wait for the runtime")?;
    finish::undumpable()?;
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
    // Never in a joined namespace: that one is someone else's to configure.
    let new_net = (plan.clone_flags | plan.unshare_flags as u64) & libc::CLONE_NEWNET as u64 != 0;
    if l.loopback_up && new_net {
        berth_sys::net::link_up("lo").ctx(|| "set loopback up")?;
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
            in_userns: in_userns || l.rootless,
            cgroupns: plan.new_cgroupns,
            cgroups: &l.cgroup_mounts,
            prepared: l.prepared,
        };
        rootfs::populate(spec, &env)?;
        if runtime_hooks {
            chan.run_runtime_hooks()
                .ctx(|| "wait for the runtime's hooks")?;
        }
        container_hooks(l, Status::Creating, p.env().as_deref(), |h| {
            h.create_container().clone()
        })?;
        rootfs::enter(root.as_fd(), &l.rootfs, l.no_pivot)?;
        rootfs::lock_down(spec)?;
    } else {
        if runtime_hooks {
            chan.run_runtime_hooks()
                .ctx(|| "wait for the runtime's hooks")?;
        }
        container_hooks(l, Status::Creating, p.env().as_deref(), |h| {
            h.create_container().clone()
        })?;
        // The namespace's root is the host's (or the joined one's): root.path still holds.
        let root = sysfs::open(&l.rootfs, libc::O_PATH | libc::O_DIRECTORY, 0)
            .ctx(|| format!("open rootfs {}", l.rootfs.display()))?;
        rootfs::chroot(root.as_fd())?;
    }
    attrs::sysctls(spec, host.proc.as_fd())?;
    attrs::process(spec, p, host.proc.as_fd())?;
    attrs::rlimits(p)?;
    let host_fifo = host.fifo;
    let after_start = |env: &[String]| {
        container_hooks(l, Status::Created, Some(env), |h| {
            h.start_container().clone()
        })
    };
    finish::finish(
        Final {
            process: p,
            seccomp: l.seccomp,
            agent,
            status: Status::Creating,
            console_socket: l.console_socket.as_ref().map(|s| s.as_fd()),
            relay_terminal: l.relay_terminal,
            console_mount: true,
            keyring: l.new_keyring.then_some(l.id),
            keep_groups: crate::spec::keeps_original_groups(spec),
            proc: host.proc,
            fifo: host_fifo,
            after_start: &after_start,
        },
        chan,
        started,
    )
}

/// In a user namespace, act as its root for the setup if root is mapped: files the setup
/// creates then belong to a mapped id.
fn become_root_if_mapped() {
    let _ = ids::setresgid(0);
    let _ = ids::setresuid(0);
}

/// Runs the container-namespace hooks (`createContainer`, `startContainer`); one without
/// `env` gets `env`, the container process's, as with runc.
fn container_hooks(
    l: &Launch<'_>,
    status: Status,
    env: Option<&[String]>,
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
    hooks::run(kind, &list, &state, env)
        .map_err(|e| InitError::check(format!("{kind} hooks"), e.to_string()))
}
