//! Attending a container: the calling process runs it through the runtime core as its
//! parent and subreaper (a monitor, or `berth run` in the foreground), records that it runs,
//! then how it ended, and removes it when it was created with `--rm`.

use crate::options::Network;
use crate::record::{Lock, Owner, Record, State};
use crate::time::Timestamp;
use crate::{loopback, Engine, Error};
use berth_container::create::CreateOptions;
use berth_container::run::Observer;
use std::fs::File;
use std::io::Write;

/// Told by the runtime core how the start goes.
struct Attendant<'a> {
    engine: &'a Engine,
    record: Record,
    /// The container's lock, held until its program runs.
    lock: Option<Lock>,
    /// Where the process that started a monitor waits to hear "ok".
    handshake: &'a mut Option<File>,
    started: bool,
    oom_kills: u64,
}

impl Observer for Attendant<'_> {
    fn created(&mut self, pid: i32) -> Result<(), berth_container::Error> {
        if self.record.settings.network == Network::None {
            loopback::up_in(pid).map_err(|e| {
                berth_container::Error::Usage(format!("set loopback up in the container: {e}"))
            })?;
        }
        Ok(())
    }

    fn started(&mut self, _pid: i32) {
        self.started = true;
        let r = &mut self.record;
        r.state = State::Running;
        r.started_at = Some(Timestamp::now());
        r.finished_at = None;
        r.exit_code = None;
        r.error = None;
        r.oom_killed = false;
        r.monitor = Owner::current().ok();
        let _ = self.engine.containers.save(r);
        // Started: other commands may act on it now.
        self.lock = None;
        if let Some(mut h) = self.handshake.take() {
            let _ = h.write_all(b"ok");
        }
    }

    fn ended(&mut self, oom_kills: u64) {
        self.oom_kills = oom_kills;
    }
}

impl Engine {
    /// Runs container `id` in this process until it exits and returns its exit status.
    /// `handshake` hears "ok" once the program runs (and is taken then).
    pub(crate) fn attend(&self, id: &str, handshake: &mut Option<File>) -> Result<i32, Error> {
        // Lock order: a container's lock, then the runtime's state lock, never the other
        // way round. The lock is held until the program runs, so a command that waits for it
        // finds the container created or running, never half-started.
        let gone = || Error::NoSuchContainer(id.to_string());
        let lock = self.containers.lock(id, true)?.ok_or_else(gone)?;
        let r = self.refresh_locked(id)?.ok_or_else(gone)?;
        if r.state == State::Running {
            return Err(Error::AlreadyRunning(r.name));
        }
        // A previous run whose attendant was killed may have left the runtime's state.
        if self.init(id)?.is_some() {
            return Err(Error::WrongState {
                name: r.name,
                state: "running".into(),
                action: "start it again",
            });
        }
        self.clear_runtime(id)?;
        let opts = CreateOptions {
            id: id.to_string(),
            bundle: self.containers.dir(id),
            ..Default::default()
        };
        let name = r.name.clone();
        let mut att = Attendant {
            engine: self,
            record: r,
            lock: Some(lock),
            handshake,
            started: false,
            oom_kills: 0,
        };
        let result = berth_container::run::run_observed(&self.runtime, &opts, &mut att)
            .map_err(Error::runtime(&name));
        let (started, oom_killed) = (att.started, att.oom_kills > 0);
        drop(att);
        let message = result.as_ref().err().map(ToString::to_string);
        let ended = self.update(id, |r| {
            if started {
                r.state = State::Exited;
                r.exit_code = result.as_ref().ok().copied();
                r.finished_at = Some(Timestamp::now());
                r.monitor = None;
                r.oom_killed = oom_killed;
            }
            r.error = message;
        })?;
        if let Some(r) = ended.filter(|r| r.settings.auto_remove) {
            if let Some(_lock) = self.containers.lock(id, true)? {
                if let Some(code) = r.exit_code {
                    self.containers.keep_removed_exit(id, code)?;
                }
                self.discard(id, Some(&r.name))?;
            }
        }
        result
    }
}
