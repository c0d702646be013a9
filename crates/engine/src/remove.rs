//! `rm`: remove a container that does not run, or with `force`, kill it first. Everything
//! goes: the runtime's state and cgroup, the overlay mount and its upper directory, the
//! name, the container's directory.

use crate::record::State;
use crate::{process, Engine, Error};
use berth_image::store::StoreError;
use std::time::Duration;

/// How long `rm -f` and `stop` wait for a monitor to record the exit of a killed container.
pub(crate) const MONITOR_GRACE: Duration = Duration::from_secs(10);

impl Engine {
    /// Removes the container `what` names; returns its id.
    pub fn remove(&self, what: &str, force: bool) -> Result<String, Error> {
        let id = self.containers.resolve(what)?;
        let Some(r) = self.refresh(&id)? else {
            return Ok(id);
        };
        if r.state == State::Running {
            if !force {
                return Err(Error::WrongState {
                    name: r.name,
                    state: "running".into(),
                    action: "remove it (stop it first, or use rm -f)",
                });
            }
            let _ = berth_container::kill::kill(&self.runtime, &id, libc::SIGKILL, true);
            if let Some(m) = r.monitor {
                process::wait_exit(m, Some(MONITOR_GRACE))?;
            }
        }
        if let Some(_lock) = self.containers.lock(&id, true)? {
            self.discard(&id, Some(&r.name))?;
        }
        Ok(id)
    }

    /// Removes everything of container `id`; the caller holds its lock (or made it).
    pub(crate) fn discard(&self, id: &str, name: Option<&str>) -> Result<(), Error> {
        self.clear_runtime(id)?;
        match self.store.remove_rootfs(id) {
            Ok(()) | Err(StoreError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
        match name {
            Some(n) => self.containers.release_name(n, id),
            None => self.containers.release_names_of(id),
        }
        let dir = self.containers.dir(id);
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::path(&dir)(e)),
            _ => Ok(()),
        }
    }
}
