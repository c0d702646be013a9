//! `rm`: remove a container that does not run, or with `force`, kill it first. Everything
//! goes: the runtime's state and cgroup, the overlay mount and its upper directory, the
//! name, the container's directory; with `-v`, its anonymous volumes.

use crate::record::State;
use crate::{process, Engine, Error};
use berth_image::store::StoreError;
use std::time::Duration;

/// How long `rm -f` and `stop` wait for a monitor to record the exit of a killed container.
pub(crate) const MONITOR_GRACE: Duration = Duration::from_secs(10);

impl Engine {
    /// Removes the container `what` names, and with `volumes` its anonymous volumes that
    /// no other container uses; returns its id.
    pub fn remove(&self, what: &str, force: bool, volumes: bool) -> Result<String, Error> {
        let id = self.containers.resolve(what)?;
        // A create or start under way holds the lock: waiting for it, we find the container
        // made, or running (which `force` kills before the next round removes it).
        for _ in 0..3 {
            let Some(lock) = self.containers.lock(&id, true)? else {
                return Ok(id);
            };
            let r = match self.refresh_locked(&id)? {
                Some(r) if r.state == State::Running => r,
                // No record once its creator let go: what a killed create left.
                r => {
                    // A monitor pausing before a restart goes with its container.
                    if let Some(m) = r.as_ref().and_then(|r| r.monitor).filter(|m| m.alive()) {
                        let _ = berth_sys::process::kill(m.pid, libc::SIGKILL);
                    }
                    self.discard(&id, r.as_ref().map(|r| r.name.as_str()))?;
                    if let Some(r) = r.filter(|_| volumes) {
                        self.remove_anonymous_volumes(&r.settings.mounts)?;
                    }
                    return Ok(id);
                }
            };
            if !force {
                return Err(Error::WrongState {
                    name: r.name,
                    state: "running".into(),
                    action: "remove it (stop it first, or use rm -f)",
                });
            }
            // Its attendant records the exit under the lock; its restart policy must not
            // bring it back.
            drop(lock);
            self.stopped_by_hand(&id)?;
            let init = self.init(&id)?;
            let _ = berth_container::kill::kill(&self.runtime, &id, libc::SIGKILL, true);
            // The init first: with its monitor dead, nothing else tells when it is gone.
            for p in init.into_iter().chain(r.monitor) {
                process::wait_exit(p, Some(MONITOR_GRACE))?;
            }
        }
        Err(Error::Failed {
            name: what.to_string(),
            reason: "it kept running after SIGKILL".into(),
        })
    }

    /// Removes everything of container `id`; the caller holds its lock (or made it).
    pub(crate) fn discard(&self, id: &str, name: Option<&str>) -> Result<(), Error> {
        if let Some(n) = name {
            self.journal
                .record("container", "destroy", id, &[("name", n)]);
        }
        self.clear_runtime(id)?;
        self.network_stop(id)?;
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
