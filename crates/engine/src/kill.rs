//! `kill`: a signal to the container's main process.

use crate::record::State;
use crate::{Engine, Error};

impl Engine {
    /// Sends `signal` (a name such as `TERM`/`SIGTERM`, or a number) to container `what`.
    pub fn kill(&self, what: &str, signal: &str) -> Result<String, Error> {
        let sig = berth_sys::signal::parse(signal).ok_or_else(|| Error::Failed {
            name: what.to_string(),
            reason: format!("--signal {signal:?}: unknown signal"),
        })?;
        let r = self.settled(what)?;
        if r.state != State::Running {
            return Err(Error::WrongState {
                name: r.name,
                state: r.state.to_string(),
                action: "signal it",
            });
        }
        berth_container::kill::kill(&self.runtime, &r.id, sig, false)
            .map_err(Error::runtime(&r.name))?;
        Ok(r.id)
    }
}
