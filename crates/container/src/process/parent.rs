//! The runtime's side of the chain: fork the container's first process with its namespaces,
//! (in its cgroup2 directory, when there is one), map its ids, run the runtime's hooks when
//! it asks, and return once it is ready (or clean up after it when it is not).

use super::channel::{self, ChannelError, ParentEnd, Report};
use super::namespaces;
use super::tenant::{self, Tenant};
use super::{init, userns, Launch};
use crate::hooks::{self, HookError, HookState};
use crate::init::ProgramFault;
use crate::state::Status;
use berth_sys::process::{self as sysproc, CloneArgs, Forked};
use oci_spec::runtime::LinuxIdMapping;
use std::os::fd::OwnedFd;

/// Why the container's process could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("{0}")]
    Setup(String),
    /// The container's program cannot run (127 or 126 to docker's users).
    #[error("{1}")]
    CannotRun(ProgramFault, String),
    #[error("fork the container's process: {0}")]
    Clone(std::io::Error),
    #[error("map ids: {0}")]
    Maps(#[from] userns::MapError),
    #[error(transparent)]
    Hook(#[from] HookError),
    #[error("the container's process exited during setup{0}")]
    Exited(String),
    #[error("setup channel: {0}")]
    Channel(std::io::Error),
    #[error(transparent)]
    Cgroup(#[from] berth_cgroups::Error),
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

/// Forks the container's init and drives its setup to readiness.
pub fn spawn(l: &Launch<'_>) -> Result<Spawned, LaunchError> {
    let clone_into = l.cgroup.and_then(|c| c.clone_into());
    // A cgroup namespace made at clone time is rooted where the child starts: only right
    // when no v1 hierarchy is still to be joined.
    let in_cgroup_at_clone =
        clone_into.is_some() && l.cgroup.is_none_or(|c| c.tasks_files().is_empty());
    let plan = namespaces::plan(l.spec, in_cgroup_at_clone);
    let mut run = fork(plan.clone_flags, clone_into, Stage::Init(l, &plan))?;
    run.init = (!plan.intermediate || !plan.fork).then_some(run.child);
    let prelude = |run: &Running| -> Result<(), LaunchError> {
        if let Some(c) = l.cgroup {
            c.place(run.child)?;
        }
        if plan.new_user && !plan.intermediate {
            let (u, g) = mappings(l);
            userns::write(run.child, &u, &g)?;
        }
        Ok(())
    };
    finish(drive(Some(l), &mut run, prelude), run)
}

/// Forks a process that joins the running container (`exec`) and drives it to readiness.
pub fn spawn_tenant(t: &Tenant<'_>) -> Result<Spawned, LaunchError> {
    let clone_into = t.cgroup.and_then(|c| c.clone_into());
    let mut run = fork(0, clone_into, Stage::Tenant(t))?;
    finish(drive(None, &mut run, |_| Ok(())), run)
}

/// What the forked child runs.
enum Stage<'a> {
    Init(&'a Launch<'a>, &'a namespaces::Plan),
    Tenant(&'a Tenant<'a>),
}

fn fork(
    namespaces: u64,
    cgroup: Option<std::os::fd::BorrowedFd<'_>>,
    stage: Stage<'_>,
) -> Result<Running, LaunchError> {
    let (parent_end, child_end) = channel::channel().map_err(LaunchError::Channel)?;
    let args = CloneArgs {
        namespaces,
        pidfd: false,
        cgroup,
    };
    // SAFETY: the runtime is single-threaded; the child runs a stage that never returns.
    let pid = match unsafe { sysproc::clone3(&args) }.map_err(LaunchError::Clone)? {
        Forked::Child => {
            drop(parent_end);
            match stage {
                Stage::Init(l, plan) => init::run(l, plan, child_end),
                Stage::Tenant(t) => tenant::run(t, child_end),
            }
        }
        Forked::Parent { pid, .. } => pid,
    };
    drop(child_end);
    Ok(Running {
        child: pid,
        init: None,
        channel: parent_end,
    })
}

fn finish(r: Result<Option<OwnedFd>, LaunchError>, run: Running) -> Result<Spawned, LaunchError> {
    match r {
        Ok(master) => Ok(Spawned {
            pid: run.init.unwrap_or(run.child),
            channel: run.channel,
            master,
        }),
        Err(e) => {
            run.kill();
            Err(e)
        }
    }
}

fn mappings(l: &Launch<'_>) -> (Vec<LinuxIdMapping>, Vec<LinuxIdMapping>) {
    let linux = l.spec.linux().as_ref();
    (
        linux
            .and_then(|x| x.uid_mappings().clone())
            .unwrap_or_default(),
        linux
            .and_then(|x| x.gid_mappings().clone())
            .unwrap_or_default(),
    )
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

/// Lets the child proceed, and answers its reports until it is ready. `launch` is the new
/// container's (id maps and hooks), `None` for an exec.
fn drive(
    launch: Option<&Launch<'_>>,
    run: &mut Running,
    prelude: impl FnOnce(&Running) -> Result<(), LaunchError>,
) -> Result<Option<OwnedFd>, LaunchError> {
    prelude(run)?;
    run.channel.proceed().map_err(LaunchError::Channel)?;
    loop {
        let report = match run.channel.next_report() {
            Ok(r) => r,
            Err(ChannelError::Failed(f)) => {
                return Err(match f.program {
                    Some(fault) => LaunchError::CannotRun(fault, f.message),
                    None => LaunchError::Setup(f.message),
                })
            }
            Err(ChannelError::Closed) => return Err(LaunchError::Exited(run.exit_note())),
            Err(ChannelError::Io(e)) => return Err(LaunchError::Channel(e)),
        };
        match (report, launch) {
            (Report::MapUserNamespace(pid), Some(l)) => {
                let (u, g) = mappings(l);
                userns::write(pid, &u, &g)?;
                run.channel.proceed().map_err(LaunchError::Channel)?;
            }
            (Report::InitPid(pid), _) => {
                run.init = Some(pid);
                // The intermediate has done its work and exits now.
                let _ = sysproc::waitpid(run.child, 0);
            }
            (Report::RunRuntimeHooks, Some(l)) => {
                runtime_hooks(l, run.init.unwrap_or(run.child))?;
                run.channel.hooks_done().map_err(LaunchError::Channel)?;
            }
            (Report::Ready(master), _) => return Ok(master),
            (r, None) => {
                return Err(LaunchError::Setup(format!(
                    "unexpected report {r:?} from an exec'd process"
                )))
            }
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
        None,
    )?;
    hooks::run(
        "createRuntime",
        h.create_runtime().as_deref().unwrap_or_default(),
        &state,
        None,
    )
}
