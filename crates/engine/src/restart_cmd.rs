//! `restart`: `stop`, then `start`, as docker's.

use crate::start::MonitorCommand;
use crate::{Engine, Error};
use std::time::Duration;

impl Engine {
    /// Stops container `what` (see [`Engine::stop`]) and starts it again; returns its id.
    pub fn restart(
        &self,
        what: &str,
        timeout: Option<Duration>,
        signal: Option<&str>,
        monitor: &MonitorCommand,
    ) -> Result<String, Error> {
        self.stop(what, timeout, signal)?;
        let r = self.start(what, monitor)?;
        self.event(&r, "restart", &[]);
        Ok(r.id)
    }
}
