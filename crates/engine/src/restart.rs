//! Restart policies (`--restart`): when a monitor starts its container again, what `stop`
//! and `kill` by hand change, and `start --all-restartable` after a reboot, where no daemon
//! brings containers back.

use crate::monitor::Backoff;
use crate::options::Restart;
use crate::record::{Owner, Record, State};
use crate::start::MonitorCommand;
use crate::{Engine, Error};
use std::time::Duration;

/// A container `start --all-restartable` started, and how that went.
pub type Started = (String, Result<(), Error>);

impl Engine {
    /// After container `id`'s run ended with `result`: the pause before its monitor starts
    /// it again, when its policy says so (it is then recorded as restarting); `None` when
    /// the monitor is done.
    pub(crate) fn restart_pause(
        &self,
        id: &str,
        result: &Result<i32, Error>,
        backoff: &mut Backoff,
    ) -> Result<Option<Duration>, Error> {
        // A start that failed is reported, not retried.
        if result.is_err() {
            return Ok(None);
        }
        let mut pause = None;
        self.update(id, |r| {
            if r.state == State::Exited && wants_restart(r) {
                let ran = match (r.started_at, r.finished_at) {
                    (Some(s), Some(f)) => Duration::from_secs(s.seconds_until(f)),
                    _ => Duration::ZERO,
                };
                pause = Some(backoff.pause(ran));
                r.state = State::Restarting;
                r.restart_count += 1;
                // The monitor stays: `stop` and `rm` end its pause.
                r.monitor = Owner::current().ok();
            }
        })?;
        Ok(pause)
    }

    /// Whether container `id` is still to be restarted after the pause (no one stopped or
    /// removed it meanwhile).
    pub(crate) fn still_restarting(&self, id: &str) -> Result<bool, Error> {
        Ok(self
            .containers
            .load(id)?
            .is_some_and(|r| r.state == State::Restarting && !r.manually_stopped))
    }

    /// Marks container `id` stopped by hand: its policy no longer restarts it. A pending
    /// restart is called off, and the monitor waiting for it ends.
    pub(crate) fn stopped_by_hand(&self, id: &str) -> Result<(), Error> {
        let was = self.update(id, |r| {
            r.manually_stopped = true;
            if r.state == State::Restarting {
                r.state = State::Exited;
            }
        })?;
        if let Some(m) = was.and_then(|r| r.monitor).filter(|m| m.alive()) {
            // A monitor pausing before a restart has nothing left to do; one attending a
            // running container sees the flag when it ends.
            if self
                .containers
                .load(id)?
                .is_some_and(|r| r.state == State::Exited)
            {
                let _ = berth_sys::process::kill(m.pid, libc::SIGKILL);
            }
        }
        Ok(())
    }

    /// Starts every container its policy brings back after a reboot (or any time berth was
    /// not there to restart them): `always`, `unless-stopped` unless stopped by hand, and
    /// `on-failure` after a failure; returns their names, each with how its start went.
    pub fn start_restartable(&self, monitor: &MonitorCommand) -> Result<Vec<Started>, Error> {
        let mut out = Vec::new();
        for id in self.containers.ids()? {
            let Some(r) = self.refresh(&id)? else {
                continue;
            };
            if matches!(r.state, State::Running | State::Restarting) || !comes_back(&r) {
                continue;
            }
            out.push((r.name.clone(), self.start(&r.id, monitor).map(drop)));
        }
        Ok(out)
    }
}

/// Whether the policy of `r`, which has just ended, restarts it.
fn wants_restart(r: &Record) -> bool {
    match r.settings.restart {
        _ if r.manually_stopped => false,
        Restart::No => false,
        Restart::Always | Restart::UnlessStopped => true,
        Restart::OnFailure { max } => {
            r.exit_code != Some(0) && max.is_none_or(|m| r.restart_count < m)
        }
    }
}

/// Whether `r`, not running, is started again after a reboot.
fn comes_back(r: &Record) -> bool {
    match r.settings.restart {
        Restart::No => false,
        Restart::Always => true,
        Restart::UnlessStopped => !r.manually_stopped,
        // An unknown status (the host went down under it) counts as a failure.
        Restart::OnFailure { .. } => wants_restart(r),
    }
}
