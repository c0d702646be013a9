//! Seccomp for the container's processes: compiled (and cached) by the runtime before it
//! forks, installed by the init or an exec'd process as late as the kernel allows (but before
//! the init reports ready when an agent waits for the listener), the NOTIFY listener handed
//! to the agent at `listenerPath` with the container's state.

use crate::init::error::{Context, InitError};
use crate::state::Status;
use berth_seccomp::{process_state, Filter, Handoff, ListenerSocket};
use berth_sys::fs as sysfs;
use oci_spec::runtime::{Spec, State};
use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};

/// A compiled filter and where its NOTIFY listener goes.
pub struct Seccomp {
    filter: Filter,
    listener_path: Option<PathBuf>,
    metadata: Option<String>,
    /// The state sent with the listener; its pid and status are filled in at install.
    state: State,
}

/// Where compiled filters are cached, under the runtime's root. The name is not a valid
/// container id, so `list` never sees it.
pub fn cache_dir(root: &Path) -> PathBuf {
    root.join("@cache").join("seccomp")
}

impl Seccomp {
    /// Compiles `linux.seccomp`, if the config has one.
    pub fn prepare(
        spec: &Spec,
        id: &str,
        bundle: &Path,
        cache: &Path,
    ) -> Result<Option<Seccomp>, berth_seccomp::Error> {
        let Some(s) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) else {
            return Ok(None);
        };
        let filter = Filter::compile_cached(s, cache)?;
        let mut state = State::default();
        state.set_version(spec.version().to_string());
        state.set_id(id.to_string());
        state.set_bundle(bundle.to_path_buf());
        state.set_annotations(spec.annotations().clone());
        Ok(Some(Seccomp {
            filter,
            listener_path: s.listener_path().clone(),
            metadata: s.listener_metadata().clone(),
            state,
        }))
    }

    /// Connects to the NOTIFY agent; done before the pivot, while the host path resolves.
    pub fn connect_agent(&self) -> Result<Option<ListenerSocket>, InitError> {
        match (&self.listener_path, self.filter.uses_notify()) {
            (Some(p), true) => ListenerSocket::connect(p)
                .map(Some)
                .map_err(|e| InitError::check("linux.seccomp.listenerPath", e.to_string())),
            (None, true) => Err(InitError::check(
                "linux.seccomp",
                "a SCMP_ACT_NOTIFY rule needs listenerPath",
            )),
            _ => Ok(None),
        }
    }

    /// Prepares the hand-off of the listener to the connected `agent`: the container process
    /// state it will get, made while the host's procfs `proc` (which tells the host pid) is
    /// at hand, so that after the filter the hand-off is one sendmsg.
    pub fn handoff(
        &self,
        agent: ListenerSocket,
        proc: BorrowedFd<'_>,
        status: Status,
    ) -> Result<Handoff, InitError> {
        let pid = host_pid(proc)?;
        let mut state = self.state.clone();
        state.set_pid(Some(pid));
        state.set_status(match status {
            Status::Creating => oci_spec::runtime::ContainerState::Creating,
            _ => oci_spec::runtime::ContainerState::Running,
        });
        let message = process_state(state, pid, self.metadata.clone());
        agent.with_state(&message).map_err(handoff_error)
    }

    /// Installs the filter on the calling process and hands its listener over.
    pub fn install(&self, handoff: Option<Handoff>) -> Result<(), InitError> {
        let listener = self
            .filter
            .install()
            .map_err(|e| InitError::check("install the seccomp filter", e.to_string()))?;
        if let (Some(fd), Some(handoff)) = (listener, handoff) {
            handoff.send(fd).map_err(handoff_error)?;
        }
        Ok(())
    }
}

fn handoff_error(e: berth_seccomp::Error) -> InitError {
    InitError::check("send the seccomp listener", e.to_string())
}

/// The caller's pid in the host's pid namespace: the target of `self` in the host's procfs.
pub(crate) fn host_pid(proc: BorrowedFd<'_>) -> Result<i32, InitError> {
    let link = sysfs::readlinkat(proc, Path::new("self")).ctx(|| "read /proc/self")?;
    link.to_str().and_then(|n| n.parse().ok()).ok_or_else(|| {
        InitError::check(
            "/proc/self",
            format!("unexpected target {}", link.display()),
        )
    })
}
