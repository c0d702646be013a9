//! `pause` and `unpause`: freeze and thaw every process of a running container (its cgroup's
//! freezer), through the runtime core. The record keeps saying running; the runtime's state
//! says paused, and `ps` and `inspect` show it.

use crate::record::State;
use crate::{Engine, Error};

impl Engine {
    /// Freezes container `what`; returns its id.
    pub fn pause(&self, what: &str) -> Result<String, Error> {
        self.freezer(what, true)
    }

    /// Thaws container `what`; returns its id.
    pub fn unpause(&self, what: &str) -> Result<String, Error> {
        self.freezer(what, false)
    }

    fn freezer(&self, what: &str, freeze: bool) -> Result<String, Error> {
        let r = self.settled(what)?;
        if r.state != State::Running {
            return Err(Error::WrongState {
                name: r.name,
                state: r.state.to_string(),
                action: if freeze { "pause it" } else { "unpause it" },
            });
        }
        let done = match freeze {
            true => berth_container::pause::pause(&self.runtime, &r.id),
            false => berth_container::pause::resume(&self.runtime, &r.id),
        };
        done.map_err(Error::runtime(&r.name))?;
        self.event(&r, if freeze { "pause" } else { "unpause" }, &[]);
        Ok(r.id)
    }

    /// Whether running container `id` is frozen.
    pub(crate) fn paused(&self, id: &str) -> bool {
        let status = self
            .glance(id)
            .ok()
            .flatten()
            .map(|(d, g)| d.status(Some(&g)));
        matches!(status, Some(Ok(berth_container::state::Status::Paused)))
    }
}
