//! The runtime's side of the chain: fork the container's first process with its namespaces,
//! map its ids, place it in its cgroup, run the runtime's hooks when it asks, and return once
//! it is ready (or clean up after it when it is not).

use super::channel::{self, ChannelError, ParentEnd, Report};
use super::namespaces::{self, Plan};
use super::{init, userns, Launch};
use crate::hooks::{self, HookError, HookState};
use crate::state::Status;
use berth_sys::process::{self as sysproc, CloneArgs, Forked};
use std::os::fd::OwnedFd;

/// Why the container's process could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("{0}")]
    Setup(String),
    #[error("fork the container's process: {0}")]
    Clone(std::io::Error),
    #[error("map ids: {0}")]
    Maps(#[from] userns::MapError),
    #[error("cgroup: {0}")]
    Cgroup(String),
    #[error(transparent)]
    Hook(#[from] HookError),
    #[error("the container's process exited during setup{0}")]
    Exited(String),
    #[error("setup channel: {0}")]
    Channel(std::io::Error),
}

/// A container process that is ready and waits for its start signal.
pub struct Spawned {
    /// The init's pid in the runtime's pid namespace.
    pub pid: i32,
    /// The end of the channel, for `run`'s start signal.
    pub channel: ParentEnd,
    /// The pty master, when the terminal is relayed by the runtime.
    pub master: Option<OwnedFd>,
}

/// Forks the container's process and drives its setup to readiness.
pub fn spawn(l: &Launch<'_>) -> Result<Spawned, LaunchError> {
    let clone_into = l.cgroup.and_then(|c| c.clone_into());
    let plan = namespaces::plan(l.spec, clone_into.is_some());
    let (parent_end, child_end) = channel::channel().map_err(LaunchError::Channel)?;
    let args = CloneArgs {
        namespaces: plan.clone_flags,
        pidfd: false,
        cgroup: clone_into,
    };
    // SAFETY: the runtime is single-threaded; the child runs `init::run`, which never returns.
    let child = match unsafe { sysproc::clone3(&args) }.map_err(LaunchError::Clone)? {
        Forked::Child => {
            drop(parent_end);
            init::run(l, &plan, child_end)
        }
        Forked::Parent { pid, .. } => pid,
    };
    drop(child_end);
    let mut run = Running {
        child,
        init: (!plan.intermediate || !plan.fork).then_some(child),
        channel: parent_end,
    };
    match drive(l, &plan, &mut run) {
        Ok(master) => {
            let pid = run.init.unwrap_or(child);
            Ok(Spawned {
                pid,
                channel: run.channel,
                master,
            })
        }
        Err(e) => {
            run.kill();
            Err(e)
        }
    }
}

struct Running {
    /// The direct child (the init, or the intermediate).
    child: i32,
    init: Option<i32>,
    channel: ParentEnd,
}

impl Running {
    /// Kills and reaps whatever of the chain exists, after a failed setup.
    fn kill(&self) {
        for pid in [Some(self.child), self.init].into_iter().flatten() {
            let _ = sysproc::kill(pid, libc::SIGKILL);
        }
        let _ = sysproc::waitpid(self.child, 0);
    }

    /// The direct child's exit, for a process that died during setup.
    fn exit_note(&self) -> String {
        match sysproc::waitpid(self.child, libc::WNOHANG) {
            Ok(Some((_, e))) => format!(" ({e:?})"),
            _ => String::new(),
        }
    }
}

fn drive(l: &Launch<'_>, plan: &Plan, run: &mut Running) -> Result<Option<OwnedFd>, LaunchError> {
    let mappings = || {
        let linux = l.spec.linux().as_ref();
        (
            linux
                .and_then(|x| x.uid_mappings().clone())
                .unwrap_or_default(),
            linux
                .and_then(|x| x.gid_mappings().clone())
                .unwrap_or_default(),
        )
    };
    if plan.new_user && !plan.intermediate {
        let (u, g) = mappings();
        userns::write(run.child, &u, &g)?;
    }
    if let Some(c) = l.cgroup {
        if c.clone_into().is_none() {
            c.join(run.child).map_err(LaunchError::Cgroup)?;
        }
    }
    run.channel.proceed().map_err(LaunchError::Channel)?;
    loop {
        let report = match run.channel.next_report() {
            Ok(r) => r,
            Err(ChannelError::Failed(msg)) => return Err(LaunchError::Setup(msg)),
            Err(ChannelError::Closed) => return Err(LaunchError::Exited(run.exit_note())),
            Err(ChannelError::Io(e)) => return Err(LaunchError::Channel(e)),
        };
        match report {
            Report::MapUserNamespace(pid) => {
                let (u, g) = mappings();
                userns::write(pid, &u, &g)?;
                run.channel.proceed().map_err(LaunchError::Channel)?;
            }
            Report::InitPid(pid) => {
                run.init = Some(pid);
                // The intermediate has done its work and exits now.
                let _ = sysproc::waitpid(run.child, 0);
            }
            Report::RunRuntimeHooks => {
                runtime_hooks(l, run.init.unwrap_or(run.child))?;
                run.channel.hooks_done().map_err(LaunchError::Channel)?;
            }
            Report::Ready(master) => return Ok(master),
        }
    }
}

/// `prestart` (deprecated, same moment) then `createRuntime`, in the runtime's namespaces.
fn runtime_hooks(l: &Launch<'_>, pid: i32) -> Result<(), HookError> {
    let Some(h) = l.spec.hooks() else {
        return Ok(());
    };
    let state = HookState {
        oci_version: l.spec.version(),
        id: l.id,
        status: Status::Creating,
        pid: Some(pid),
        bundle: l.bundle,
        annotations: l.spec.annotations().clone().unwrap_or_default(),
    };
    hooks::run(
        "prestart",
        h.prestart().as_deref().unwrap_or_default(),
        &state,
    )?;
    hooks::run(
        "createRuntime",
        h.create_runtime().as_deref().unwrap_or_default(),
        &state,
    )
}
