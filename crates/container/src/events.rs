//! `events`: a container's resource usage and OOM notifications as runc prints them, one
//! JSON object a line: `{"type":"stats","id":...,"data":{...}}` and `{"type":"oom","id":...}`.
//! The stream polls the cgroup's OOM watcher and the init's pidfd together with a timer, in
//! one thread, and ends when the container's init exits.

use crate::cgroup::{load, manager};
use crate::kill::init_pidfd;
use crate::state::{Saved, Status};
use crate::{Error, Runtime};
use berth_cgroups::{OomEvent, Stats};
use serde::Serialize;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

const LIVE: &[Status] = &[Status::Created, Status::Running, Status::Paused];

/// What an event is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Stats,
    Oom,
}

/// One event of the stream.
#[derive(Clone, Debug, Serialize)]
pub struct Event {
    #[serde(rename = "type")]
    pub kind: Kind,
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Stats>,
}

/// The stats of container `id` now, as one `stats` event (`events --stats`).
pub fn stats(rt: &Runtime, id: &str) -> Result<Event, Error> {
    let (_dir, saved) = load(rt, id, LIVE, "read its stats")?;
    stats_event(&saved)
}

fn stats_event(saved: &Saved) -> Result<Event, Error> {
    Ok(Event {
        kind: Kind::Stats,
        id: saved.id.clone(),
        data: Some(manager(saved, "read its stats")?.stats(berth_cgroups::Detail::Full)?),
    })
}

/// Passes container `id`'s events to `emit` until its init exits: stats every `interval`,
/// and an `oom` event each time the cgroup hits its memory limit. A failed stats read is a
/// warning, as in runc; an error from `emit` ends the stream.
pub fn watch(
    rt: &Runtime,
    id: &str,
    interval: Duration,
    mut emit: impl FnMut(&Event) -> Result<(), Error>,
) -> Result<(), Error> {
    if interval.is_zero() {
        return Err(Error::Usage("the interval must be greater than 0".into()));
    }
    let (_dir, saved) = load(rt, id, LIVE, "watch its events")?;
    let mut oom = Some(manager(&saved, "watch its events")?.oom_watcher()?);
    let Some(pidfd) = init_pidfd(&saved)? else {
        return Ok(());
    };
    let oom_event = Event {
        kind: Kind::Oom,
        id: saved.id.clone(),
        data: None,
    };
    let mut next = Instant::now() + interval;
    loop {
        let left = next.saturating_duration_since(Instant::now());
        let ready = berth_sys::poll::readable(
            &[oom.as_ref().map(|w| w.as_fd()), Some(pidfd.as_fd())],
            Some(left),
        )
        .map_err(Error::io("poll for container events"))?;
        let exited = ready[1];
        // Also on exit: an OOM kill of the init counts before the init is gone, but v2's
        // inotify event for it may come later.
        if ready[0] || exited {
            if let Some(w) = &mut oom {
                match w.wait(Some(Duration::ZERO))? {
                    OomEvent::Oom(_) => emit(&oom_event)?,
                    OomEvent::CgroupGone => oom = None,
                    OomEvent::Timeout => {}
                }
            }
        }
        if exited {
            return Ok(());
        }
        if Instant::now() >= next {
            match stats_event(&saved) {
                Ok(e) => emit(&e)?,
                Err(e) => tracing::warn!("events {id}: {e}"),
            }
            next = Instant::now() + interval;
        }
    }
}
