//! `wait`: block until a container stops, then give its exit status.

use crate::record::State;
use crate::{process, Engine, Error};

impl Engine {
    /// The exit status of container `what` once it has stopped (and, with `--rm`, been
    /// removed).
    pub fn wait(&self, what: &str) -> Result<i32, Error> {
        let mut r = self.settled(what)?;
        loop {
            match (r.state, r.exit_code) {
                (State::Exited, Some(code)) => {
                    // Its monitor removes a `--rm` container under the lock it recorded the
                    // end under: once we hold it, the container is gone.
                    if r.settings.auto_remove {
                        drop(self.containers.lock(&r.id, true)?);
                    }
                    return Ok(code);
                }
                (State::Running, _) => {
                    // Its attending process records the exit; if that one died, the init's
                    // end is what there is to wait for.
                    match (r.monitor.filter(|m| m.alive()), self.init(&r.id)?) {
                        (Some(m), _) | (None, Some(m)) => {
                            process::wait_exit(m, None)?;
                        }
                        (None, None) => {}
                    }
                }
                (state, _) => {
                    return Err(Error::Failed {
                        name: r.name,
                        reason: r
                            .error
                            .unwrap_or_else(|| format!("{state}: no exit status")),
                    })
                }
            }
            r = match self.refresh(&r.id)? {
                Some(now) => now,
                // It removed itself (`--rm`) and left its status behind.
                None => {
                    return self
                        .containers
                        .removed_exit(&r.id)
                        .ok_or_else(|| Error::NoSuchContainer(what.to_string()))
                }
            };
        }
    }
}
