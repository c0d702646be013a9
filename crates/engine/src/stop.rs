//! `stop`: the image's stop signal (SIGTERM without one) to the container's main process,
//! SIGKILL to all of it after the timeout; returns once its exit is recorded.

use crate::record::State;
use crate::remove::MONITOR_GRACE;
use crate::{process, Engine, Error};
use std::time::Duration;

impl Engine {
    /// Stops the container `what` names; one that does not run is left as it is. A
    /// container that removes itself once stopped (`--rm`) is stopped when it is gone.
    /// Without `timeout`, the container's `--stop-timeout` or 10 s, as docker.
    pub fn stop(
        &self,
        what: &str,
        timeout: Option<Duration>,
        signal: Option<&str>,
    ) -> Result<(), Error> {
        let signal = signal.map(|s| parse_signal(what, s)).transpose()?;
        let r = self.settled(what)?;
        if matches!(r.state, State::Created | State::Exited) {
            return Ok(());
        }
        // Its restart policy must not bring it back; a pending restart is called off.
        self.stopped_by_hand(&r.id)?;
        let Some(r) = self.refresh(&r.id)?.filter(|r| r.state == State::Running) else {
            return Ok(());
        };
        let timeout = timeout.unwrap_or_else(|| {
            Duration::from_secs(r.settings.stop_timeout.map_or(10, |t| t.max(0) as u64))
        });
        if let Some(init) = self.init(&r.id)? {
            let sig = signal
                .or_else(|| berth_sys::signal::parse(&r.stop_signal))
                .unwrap_or(libc::SIGTERM);
            let _ = berth_container::kill::kill(&self.runtime, &r.id, sig, false);
            if !process::wait_exit(init, Some(timeout))? {
                let _ = berth_container::kill::kill(&self.runtime, &r.id, libc::SIGKILL, true);
                process::wait_exit(init, Some(MONITOR_GRACE))?;
            }
        }
        if let Some(m) = r.monitor {
            process::wait_exit(m, Some(MONITOR_GRACE))?;
        }
        self.event(&r, "stop", &[]);
        Ok(())
    }
}

/// Signal `signal` (a name such as `TERM`/`SIGTERM`, or a number), given for container `what`.
pub(crate) fn parse_signal(what: &str, signal: &str) -> Result<i32, Error> {
    berth_sys::signal::parse(signal).ok_or_else(|| Error::Failed {
        name: what.to_string(),
        reason: format!("--signal {signal:?}: unknown signal"),
    })
}
