//! Attending a container: the calling process runs it through the runtime core as its
//! parent and subreaper (a monitor, or `berth run` in the foreground), records that it runs,
//! then how it ended, and removes it (with its anonymous volumes) when it was created with
//! `--rm`. Its `-o` volumes are mounted before it starts and released when it ends.

use crate::attach::AttachServer;
use crate::health::{Health, HealthTimer};
use crate::logging::Stream;
use crate::logging::{Collector, PipedStdio};
use crate::options::{Network, Sharing};
use crate::record::{Lock, Owner, Record, State};
use crate::time::Timestamp;
use crate::volumes::VolumeLock;
use crate::{Engine, Error};
use berth_container::create::CreateOptions;
use berth_container::run::{Observer, Output};
use berth_network::Attachment;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};

/// Told by the runtime core how the start goes.
struct Attendant<'a> {
    engine: &'a Engine,
    record: Record,
    /// The container's lock, held until its program runs.
    lock: Option<Lock>,
    /// The locks of the `-o` volumes mounted for it, held as long.
    volume_locks: Vec<VolumeLock>,
    /// Where the process that started a monitor waits to hear "ok".
    handshake: &'a mut Option<File>,
    started: bool,
    oom_kills: u64,
    /// Takes the container's output into its log (and the caller's terminal).
    collector: Option<Collector>,
    /// Serves attach clients (a monitor's).
    attach: Option<AttachServer>,
    /// Starts the container's health checks.
    health: Option<HealthTimer>,
    /// What the network prepared for it, connected once its namespaces exist.
    network: Option<Attachment>,
}

impl Observer for Attendant<'_> {
    fn created(&mut self, pid: i32) -> Result<(), berth_container::Error> {
        self.engine
            .network_plug(self.network.as_ref(), pid)
            .map_err(|e| berth_container::Error::Usage(format!("network: {e}")))
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
        r.manually_stopped = false;
        r.health = r.settings.health.as_ref().map(|_| Health::starting());
        r.monitor = Owner::current().ok();
        let _ = self.engine.containers.save(r);
        self.engine.event(r, "start", &[]);
        // Started: other commands may act on it now.
        self.lock = None;
        self.volume_locks.clear();
        if let Some(mut h) = self.handshake.take() {
            let _ = h.write_all(b"ok");
            // A monitor idles from here on, for as long as its container runs: the heap
            // that starting it left free, and the stack its deepest calls used, go back to
            // the kernel (docs/BENCHMARKS.md, "Engine operations").
            // SAFETY: malloc_trim only releases free memory of glibc's own heap.
            unsafe { libc::malloc_trim(0) };
            let _ = berth_sys::process::release_stack_below(16 * 1024);
        }
    }

    fn ended(&mut self, oom_kills: u64) {
        self.oom_kills = oom_kills;
    }

    fn output(&mut self) -> Option<&mut dyn Output> {
        Some(self)
    }
}

impl Output for Attendant<'_> {
    fn pipes(&self) -> [Option<std::os::fd::BorrowedFd<'_>>; 2] {
        self.collector
            .as_ref()
            .map_or([None, None], Collector::pipes)
    }

    fn write(&mut self, stream: Stream, data: &[u8]) {
        if let Some(c) = &mut self.collector {
            c.write(stream, data);
        }
        if let Some(a) = &mut self.attach {
            a.send(stream, data);
        }
    }

    /// The attach socket and its clients, then the health timer.
    fn served(&self) -> Vec<std::os::fd::BorrowedFd<'_>> {
        let mut fds = self
            .attach
            .as_ref()
            .map_or_else(Vec::new, AttachServer::fds);
        fds.extend(self.health.as_ref().map(HealthTimer::fd));
        fds
    }

    fn serve(&mut self, i: usize) -> Option<(u16, u16)> {
        let attach = self.attach.as_ref().map_or(0, |a| a.fds().len());
        match (&mut self.attach, &mut self.health) {
            (Some(a), _) if i < attach => a.ready(i),
            (_, Some(h)) => {
                h.fire();
                None
            }
            _ => None,
        }
    }
}

/// Who attends a container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Caller {
    /// `berth run` without `-d` (and a build's RUN step): the caller sees the output
    /// too when `echo`.
    Foreground { echo: bool },
    /// A detached container's monitor; with `wait_attach`, it starts the container once a
    /// first attach client is there (`start -a`).
    Monitor { wait_attach: bool },
}

impl Engine {
    /// Runs container `id` in this process until it exits and returns its exit status.
    /// `handshake` hears "ok" once the program runs (and is taken then).
    pub(crate) fn attend(
        &self,
        id: &str,
        caller: Caller,
        handshake: &mut Option<File>,
    ) -> Result<i32, Error> {
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
        // After a host reboot the root filesystem is no longer mounted.
        self.store.ensure_rootfs(id)?;
        self.join_shared_namespaces(&r)?;
        let volume_locks = self.mount_volumes(&r).inspect_err(|_| {
            let _ = self.release_volumes(&r.settings.mounts);
        })?;
        // Only a container with `-o` volumes has any to release when it ends.
        let release = (!volume_locks.is_empty()).then(|| r.settings.mounts.clone());
        let opts = CreateOptions {
            id: id.to_string(),
            bundle: self.containers.dir(id),
            loopback_up: matches!(r.settings.network, Network::None),
            ..Default::default()
        };
        let name = r.name.clone();
        let (stdio, collector) = self.collector(&r, caller)?;
        let attach = match caller {
            Caller::Monitor { wait_attach } => Some(self.attach_server(&r, wait_attach)?),
            Caller::Foreground { .. } => None,
        };
        let health = match &r.settings.health {
            Some(c) => {
                let root = self
                    .containers
                    .base()
                    .parent()
                    .unwrap_or(self.containers.base());
                Some(HealthTimer::new(c, root, id).map_err(Error::io("health check timer"))?)
            }
            None => None,
        };
        // Last before the runtime: a start that fails earlier made nothing on the network.
        let network = self.network_start(&r).inspect_err(|_| {
            let _ = self.release_volumes(&r.settings.mounts);
        })?;
        let mut att = Attendant {
            engine: self,
            record: r,
            lock: Some(lock),
            volume_locks,
            handshake,
            started: false,
            oom_kills: 0,
            collector,
            attach,
            health,
            network,
        };
        let runtime = self.runtime_for(&att.record.settings);
        let result = berth_container::run::run_observed(&runtime, &opts, &mut att)
            .map_err(Error::runtime(&name));
        let (started, oom_killed) = (att.started, att.oom_kills > 0);
        // The log gets the last partial lines; then our own stdio is back.
        drop(att);
        drop(stdio);
        // Ended (or never started): what the network made for it goes now, as in docker
        // (under the lock: `network disconnect` changes the same record).
        let stopped = match self.containers.lock(id, true)? {
            Some(_lock) => self.network_stop(id),
            None => Ok(()),
        };
        let message = result
            .as_ref()
            .err()
            .map(ToString::to_string)
            .or_else(|| stopped.err().map(|e| e.to_string()));
        // Not the container's failure: a mount left is detached by the next release, or by
        // `volume rm`.
        let release_volumes = || {
            if let Some(mounts) = &release {
                let _ = self.release_volumes(mounts);
            }
        };
        // The end is recorded and a `--rm` container removed under one lock, so that `wait`
        // (which takes the lock after the end) returns only once it is gone.
        let lock = self.containers.lock(id, true)?;
        let Some(mut r) = lock
            .as_ref()
            .map(|_| self.containers.load(id))
            .transpose()?
            .flatten()
        else {
            release_volumes();
            return result;
        };
        if started {
            if oom_killed {
                self.event(&r, "oom", &[]);
            }
            let code = result.as_ref().map_or(String::new(), |c| c.to_string());
            self.event(&r, "die", &[("exitCode", &code)]);
            r.state = State::Exited;
            r.exit_code = result.as_ref().ok().copied();
            r.finished_at = Some(Timestamp::now());
            r.monitor = None;
            r.oom_killed = oom_killed;
        }
        r.error = message;
        self.containers.save(&r)?;
        // After the save: a volume is unmounted once no record says running with it.
        release_volumes();
        if r.settings.auto_remove {
            if let Some(code) = r.exit_code {
                self.containers.keep_removed_exit(id, code)?;
            }
            self.discard(id, Some(&r.name))?;
            self.remove_anonymous_volumes(&r.settings.mounts)?;
        }
        result
    }

    /// What takes container `r`'s output, for its log driver: pipes on the container's
    /// stdout and stderr (a terminal's output arrives through the runtime instead), and in
    /// the foreground, the caller's own files to copy to.
    fn collector(
        &self,
        r: &Record,
        caller: Caller,
    ) -> Result<(Option<PipedStdio>, Option<Collector>), Error> {
        let log = &r.settings.log;
        let monitor = matches!(caller, Caller::Monitor { .. });
        // A monitor takes the output for its attach clients whatever the log driver.
        if !log.driver.collects() && !monitor {
            return Ok((None, None));
        }
        let io = |what: &'static str| Error::io(what);
        let (stdio, pipes) = match r.settings.tty {
            true => (None, [None, None]),
            false => {
                let (g, p) = PipedStdio::install().map_err(io("pipes for the output"))?;
                (Some(g), p.map(Some))
            }
        };
        let echo = match (caller, &stdio) {
            (Caller::Monitor { .. } | Caller::Foreground { echo: false }, _) => None,
            (Caller::Foreground { .. }, Some(g)) => Some(g.originals().map_err(io("dup stdout"))?),
            (Caller::Foreground { .. }, None) => {
                Some(PipedStdio::current().map_err(io("dup stdout"))?)
            }
        };
        let env = match log.env.is_empty() {
            true => Vec::new(),
            false => self.process_env(&r.id)?,
        };
        let collector = Collector::new(
            log,
            &self.containers.log_path(&r.id),
            (&r.id, &r.name, &env),
            pipes,
            echo,
        )
        .map_err(Error::path(self.containers.log_path(&r.id)))?;
        Ok((stdio, Some(collector)))
    }

    /// A monitor's attach socket for container `r`; with `wait_attach`, once a first client
    /// is there. With -i the container's stdin (the monitor's, which it inherits) is a pipe
    /// that stays open for attach clients, as `docker run -di` keeps it.
    fn attach_server(&self, r: &Record, wait_attach: bool) -> Result<AttachServer, Error> {
        let stdin = match r.settings.interactive {
            true => {
                let (rd, wr) = std::io::pipe().map_err(Error::io("pipe for stdin"))?;
                berth_sys::fs::dup_onto(rd.as_fd(), 0).map_err(Error::io("dup stdin"))?;
                Some(OwnedFd::from(wr))
            }
            false => None,
        };
        let dir = self.containers.dir(&r.id);
        let mut a = AttachServer::open(&dir, r.settings.tty, stdin).map_err(Error::path(&dir))?;
        if wait_attach {
            a.wait_for_client(std::time::Duration::from_secs(10));
        }
        Ok(a)
    }

    /// The environment of container `id`'s process, from its config.
    fn process_env(&self, id: &str) -> Result<Vec<String>, Error> {
        let path = self.containers.dir(id).join("config.json");
        let bytes = std::fs::read(&path).map_err(Error::path(&path))?;
        let config: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| Error::Config {
                field: "process.env".into(),
                reason: e.to_string(),
            })?;
        Ok(config["process"]["env"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Points container `r`'s config at the namespaces it shares with other containers
    /// (`--pid/--ipc/--uts/--network container:NAME`), which must be running.
    fn join_shared_namespaces(&self, r: &Record) -> Result<(), Error> {
        let t = &r.settings.tuning;
        let network = match (r.settings.network, &r.settings.net.join) {
            (Network::Container, Some(other)) => Sharing::Container(other.clone()),
            _ => Sharing::Private,
        };
        let mut joins = Vec::new();
        for (kind, sharing) in [
            ("pid", &t.pid),
            ("ipc", &t.ipc),
            ("uts", &t.uts),
            ("network", &network),
        ] {
            let Sharing::Container(other) = sharing else {
                continue;
            };
            let init = self.init(other)?.ok_or_else(|| Error::Failed {
                name: r.name.clone(),
                reason: format!(
                    "its {kind} namespace is container {other}'s, which is not running"
                ),
            })?;
            joins.push((kind, init.pid));
        }
        if joins.is_empty() {
            return Ok(());
        }
        let mut config = self.oci_config(r)?;
        crate::config::join_at_start(&mut config, &joins);
        self.save_oci_config(&r.id, &config)
    }
}
