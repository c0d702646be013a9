//! Bringing a record up to date with the system. A `running` container whose attending
//! process (monitor or foreground `run`) was killed is still running while its init lives;
//! once the init is gone too, it is marked exited with an unknown status, the runtime's
//! state and what the network made for it are removed, its `-o` volumes are released, and
//! with `--rm` the whole container and its anonymous volumes go. A container that does not
//! run but still has a network record, with nobody starting it, is what a killed start
//! left: the record's objects are torn down. A directory without a record that nobody
//! holds locked is what a killed `create` left: it is removed.

use crate::record::{Owner, Record, State};
use crate::time::Timestamp;
use crate::{Engine, Error};
use berth_container::state::{ContainerDir, Glance, StateError};

impl Engine {
    /// Container `id`'s record, refreshed; `None` if the container is gone.
    pub(crate) fn refresh(&self, id: &str) -> Result<Option<Record>, Error> {
        let Some(r) = self.containers.load(id)? else {
            if let Some(_lock) = self.containers.lock(id, false)? {
                if self.containers.load(id)?.is_none() {
                    self.discard(id, None)?;
                }
            }
            return Ok(None);
        };
        if !self.attendant_lost(&r)? {
            if r.state != State::Running && self.network_record(id).exists() {
                // Nobody starting it (else its lock is held): a start was killed.
                if let Some(_lock) = self.containers.lock(id, false)? {
                    return self.refresh_locked(id);
                }
            }
            return Ok(Some(r));
        }
        let Some(_lock) = self.containers.lock(id, true)? else {
            return Ok(None);
        };
        self.refresh_locked(id)
    }

    /// [`Engine::refresh`] for a caller that holds container `id`'s lock.
    pub(crate) fn refresh_locked(&self, id: &str) -> Result<Option<Record>, Error> {
        let Some(mut r) = self.containers.load(id)? else {
            return Ok(None);
        };
        if !self.attendant_lost(&r)? {
            if r.state != State::Running {
                self.network_stop(id)?;
            }
            return Ok(Some(r));
        }
        self.clear_runtime(id)?;
        self.network_stop(id)?;
        r.error = Some(format!(
            "its monitor (pid {}) died before it: the exit status is unknown",
            r.monitor.map_or(0, |m| m.pid)
        ));
        r.state = State::Exited;
        r.exit_code = None;
        r.finished_at = Some(Timestamp::now());
        r.monitor = None;
        if r.settings.auto_remove {
            self.discard(id, Some(&r.name))?;
            self.release_volumes(&r.settings.mounts)?;
            self.remove_anonymous_volumes(&r.settings.mounts)?;
            return Ok(None);
        }
        self.containers.save(&r)?;
        self.release_volumes(&r.settings.mounts)?;
        Ok(Some(r))
    }

    /// The record of container `what` once no start of it is under way: an attendant holds
    /// the container's lock from before the runtime creates it until its program runs.
    pub(crate) fn settled(&self, what: &str) -> Result<Record, Error> {
        let r = self.container(what)?;
        if r.state != State::Created {
            return Ok(r);
        }
        drop(self.containers.lock(&r.id, true)?);
        self.container(&r.id)
    }

    /// Whether `r` says running but neither its attending process nor its init lives.
    fn attendant_lost(&self, r: &Record) -> Result<bool, Error> {
        Ok(matches!(r.state, State::Running | State::Restarting)
            && !r.monitor.is_some_and(|m| m.alive())
            && self.init(&r.id)?.is_none())
    }

    /// The container's init, while it runs.
    pub(crate) fn init(&self, id: &str) -> Result<Option<Owner>, Error> {
        Ok(self
            .glance(id)?
            .map(|(_, g)| owner(&g))
            .filter(Owner::alive))
    }

    /// The runtime's saved state of container `id`, without its config, and the directory
    /// it is in; `None` when there is none.
    pub(crate) fn glance(&self, id: &str) -> Result<Option<(ContainerDir, Glance)>, Error> {
        let dir = match self.runtime.root.peek(id) {
            Ok(d) => d,
            Err(StateError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(Error::runtime(id)(e.into())),
        };
        let glance = dir.glance().map_err(|e| Error::runtime(id)(e.into()))?;
        Ok(glance.map(|g| (dir, g)))
    }

    /// Removes the runtime's state of container `id`, killing what is left of it.
    pub(crate) fn clear_runtime(&self, id: &str) -> Result<(), Error> {
        match berth_container::delete::delete(&self.runtime, id, true) {
            Err(berth_container::Error::State(StateError::NotFound(_))) | Ok(()) => Ok(()),
            Err(e) => Err(Error::runtime(id)(e)),
        }
    }
}

/// The init a glance names.
pub(crate) fn owner(g: &Glance) -> Owner {
    Owner {
        pid: g.pid,
        start_time: g.start_time,
    }
}
