//! `wait`: block until a container stops, then give its exit status.

use crate::record::State;
use crate::{process, Engine, Error};
use std::time::Duration;

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

    /// The exit status of container `what`'s next run (docker's `wait?condition=next-exit`,
    /// which `docker run` asks for before it starts the container): a container that is not
    /// running is waited for to start first, checked every `poll` while `wanted()` (the
    /// caller gives up when its client is gone: `None`).
    pub fn wait_next_exit(
        &self,
        what: &str,
        poll: Duration,
        wanted: &dyn Fn() -> bool,
    ) -> Result<Option<i32>, Error> {
        let id = self.containers.resolve(what)?;
        let first = self.refresh(&id)?.and_then(|r| r.started_at);
        loop {
            match self.refresh(&id)? {
                Some(r)
                    if matches!(r.state, State::Created | State::Exited)
                        && r.started_at == first =>
                {
                    if !wanted() {
                        return Ok(None);
                    }
                    std::thread::sleep(poll)
                }
                Some(_) | None => break,
            }
        }
        match self.wait(&id) {
            // It ran, ended and removed itself (`--rm`) before the wait began.
            Err(Error::NoSuchContainer(_)) => self
                .containers
                .removed_exit(&id)
                .map(Some)
                .ok_or_else(|| Error::NoSuchContainer(what.to_string())),
            other => other.map(Some),
        }
    }
}
