//! `kill`: a signal to the container's main process.

use crate::record::State;
use crate::{Engine, Error};

impl Engine {
    /// Sends `signal` (a name such as `TERM`/`SIGTERM`, or a number) to container `what`.
    pub fn kill(&self, what: &str, signal: &str) -> Result<String, Error> {
        let sig = crate::stop::parse_signal(what, signal)?;
        let r = self.settled(what)?;
        if r.state == State::Running {
            self.stopped_by_hand(&r.id)?;
        }
        if r.state != State::Running {
            return Err(Error::WrongState {
                name: r.name,
                state: r.state.to_string(),
                action: "signal it",
            });
        }
        self.event(&r, "kill", &[("signal", &sig.to_string())]);
        match berth_container::kill::kill(&self.runtime, &r.id, sig, false) {
            Ok(()) => Ok(r.id),
            // It ended (and may have removed itself) since we looked: nothing left to signal.
            Err(_)
                if self
                    .refresh(&r.id)?
                    .is_none_or(|now| now.state != State::Running) =>
            {
                Ok(r.id)
            }
            Err(e) => Err(Error::runtime(&r.name)(e)),
        }
    }

    /// Passes signal `sig` on to container `id`'s main process as an attached client got it
    /// (`--sig-proxy`): no event, and not a stop by hand, so a restart policy still applies.
    pub fn signal(&self, id: &str, sig: i32) -> Result<(), Error> {
        berth_container::kill::kill(&self.runtime, id, sig, false).map_err(Error::runtime(id))
    }
}
