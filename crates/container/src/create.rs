//! `create`: build the container from its bundle and leave its init waiting for `start`.
//! Everything made on the way (state directory, fifo, process) is undone if a step fails.

use crate::cgroup::ContainerCgroup;
use crate::notify::{self, Relay};
use crate::process::parent::{self, Spawned};
use crate::process::{CgroupJoin, Launch, StartSignal};
use crate::security::{cache_dir, Seccomp};
use crate::state::{write_atomic, ContainerDir, Saved};
use crate::{procfs, spec, time, Error, Runtime};
use berth_sys::{fs as sysfs, ids};
use oci_spec::runtime::Spec;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

/// Options of `create` (and of `run`, which creates first).
#[derive(Clone, Debug, Default)]
pub struct CreateOptions {
    pub id: String,
    pub bundle: PathBuf,
    /// The config to read instead of `BUNDLE/config.json` (crun's `--config`).
    pub config: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    /// Fds 3..3+N pass into the container. They must not be close-on-exec: an fd that is
    /// (a placeholder for a gap in the range) is closed at the exec instead.
    pub preserve_fds: u32,
    /// Socket activation: the first N preserved fds are systemd's `LISTEN_FDS`, and the
    /// container's process gets `LISTEN_FDS=N` and `LISTEN_PID=1`.
    pub listen_fds: u32,
    /// Set the loopback interface up in the network namespace the container creates, from
    /// its init (an engine's `--network none`; runc leaves that to whoever made the config).
    pub loopback_up: bool,
}

/// A container whose init is ready, with its state saved.
pub(crate) struct Built {
    pub dir: ContainerDir,
    pub saved: Saved,
    pub spawned: Spawned,
    /// The sd_notify relay, bound for `run` (for `create`, `start` binds it).
    pub notify: Option<Relay>,
}

/// Creates the container; its init then waits on the exec fifo for `start`.
pub fn create(rt: &Runtime, opts: &CreateOptions) -> Result<(), Error> {
    build(rt, opts, true, false).map(drop)
}

/// Loads the bundle and creates the container. `fifo`: wait for `start` on the exec fifo (else
/// on the channel, for `run`). `relay_terminal`: hand the pty master to this process.
pub(crate) fn build(
    rt: &Runtime,
    opts: &CreateOptions,
    fifo: bool,
    relay_terminal: bool,
) -> Result<Built, Error> {
    let bundle = std::fs::canonicalize(&opts.bundle).map_err(Error::path(&opts.bundle))?;
    let spec = match &opts.config {
        Some(path) => spec::load_file(path)?,
        None => spec::load(&bundle)?,
    };
    let mut spec = spec::with_cdi_devices(spec, &rt.cdi_spec_dirs)?;
    let in_userns = crate::prepared::has_userns(&spec);
    if let Some(p) = spec.process_mut() {
        spec::drop_unavailable(p, in_userns);
    }
    if opts.listen_fds > 0 {
        socket_activation(&mut spec, opts.listen_fds);
    }
    let rootfs = rootfs_path(&bundle, &spec)?;
    check_terminal(&spec, opts, fifo || !relay_terminal)?;
    let dir = rt.root.create(&opts.id)?;
    // From here on, a failure must remove the directory again.
    let built = notify::setup(dir.path(), &mut spec).and_then(|()| {
        let notify = if fifo { None } else { Relay::open(dir.path())? };
        let req = Request {
            rt,
            opts,
            spec,
            bundle,
            rootfs,
            relay_terminal,
        };
        Ok((req.build_in(&dir, fifo)?, notify))
    });
    match built {
        Ok(((saved, spawned), notify)) => Ok(Built {
            dir,
            saved,
            spawned,
            notify,
        }),
        Err(e) => {
            let _ = dir.remove();
            Err(e)
        }
    }
}

/// A checked `create` request.
struct Request<'a> {
    rt: &'a Runtime,
    opts: &'a CreateOptions,
    spec: Spec,
    bundle: PathBuf,
    rootfs: PathBuf,
    relay_terminal: bool,
}

impl Request<'_> {
    /// Prepares what the process chain needs, starts it, and saves the state. The cgroup is
    /// removed again if anything after it fails.
    fn build_in(&self, dir: &ContainerDir, fifo: bool) -> Result<(Saved, Spawned), Error> {
        let start = if fifo {
            StartSignal::Fifo(make_fifo(dir)?)
        } else {
            StartSignal::Channel
        };
        let console_socket = self
            .opts
            .console_socket
            .as_deref()
            .map(connect_console)
            .transpose()?;
        let seccomp = Seccomp::prepare(
            &self.spec,
            &self.opts.id,
            &self.bundle,
            &cache_dir(self.rt.root.path()),
        )
        .map_err(|e| Error::Usage(e.to_string()))?;
        let prepared = crate::prepared::prepare(&self.spec, &self.bundle)?;
        let cgroup = ContainerCgroup::setup(&self.spec, &self.opts.id, self.rt)?;
        let launch = Launch {
            id: &self.opts.id,
            spec: &self.spec,
            bundle: &self.bundle,
            rootfs: self.rootfs.clone(),
            start,
            console_socket,
            relay_terminal: self.relay_terminal,
            preserve_fds: self.opts.preserve_fds,
            no_pivot: self.opts.no_pivot,
            loopback_up: self.opts.loopback_up,
            rootless: self.rt.rootless,
            new_keyring: !self.opts.no_new_keyring,
            lock_fd: Some(dir.lock_fd()),
            cgroup: cgroup.as_ref().map(|c| c as &dyn CgroupJoin),
            cgroup_mounts: cgroup
                .as_ref()
                .map(|c| c.manager.mounts())
                .unwrap_or_default(),
            seccomp: seccomp.as_ref(),
            prepared: &prepared,
        };
        let result = self.spawn_and_save(dir, &launch, cgroup.as_ref());
        if let (Err(_), Some(c)) = (&result, &cgroup) {
            let _ = c.manager.destroy(true);
        }
        result
    }

    fn spawn_and_save(
        &self,
        dir: &ContainerDir,
        launch: &Launch<'_>,
        cgroup: Option<&ContainerCgroup>,
    ) -> Result<(Saved, Spawned), Error> {
        // Should this process die before the state is saved, `delete` finds the cgroup here.
        if let Some(c) = cgroup {
            dir.save_creating(&c.manager)?;
        }
        let spawned = parent::spawn(launch)?;
        let fail = |e: Error| {
            let _ = berth_sys::process::kill(spawned.pid, libc::SIGKILL);
            e
        };
        let stat = procfs::stat(spawned.pid)
            .map_err(Error::io("read the init's /proc stat"))
            .and_then(|s| {
                s.ok_or_else(|| Error::Usage("the container's init exited during create".into()))
            })
            .map_err(fail)?;
        let saved = Saved {
            id: self.opts.id.clone(),
            bundle: self.bundle.clone(),
            pid: spawned.pid,
            start_time: stat.start_time,
            created: time::now_rfc3339(),
            owner: ids::geteuid(),
            rootless: self.rt.rootless,
            config: self.spec.clone(),
            cgroup: cgroup.map(|c| c.manager.clone()),
            external_descriptors: stdio_of(spawned.pid),
        };
        dir.save(&saved).map_err(Error::from).map_err(fail)?;
        if let Some(p) = &self.opts.pid_file {
            write_pid_file(p, spawned.pid).map_err(fail)?;
        }
        Ok((saved, spawned))
    }
}

/// The targets of `pid`'s fds 0-2 (empty for one that is closed), as a JSON list.
fn stdio_of(pid: i32) -> String {
    let paths: Vec<String> = (0..3)
        .map(|fd| {
            std::fs::read_link(format!("/proc/{pid}/fd/{fd}"))
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    serde_json::to_string(&paths).unwrap_or_default()
}

/// The exec fifo, writable by whoever the container's user is (the umask took that away):
/// the init opens it after becoming that user, possibly in a user namespace.
fn make_fifo(dir: &ContainerDir) -> Result<PathBuf, Error> {
    let p = dir.fifo_path();
    let d = sysfs::open(dir.path(), libc::O_PATH | libc::O_DIRECTORY, 0)
        .map_err(Error::path(dir.path()))?;
    sysfs::mkfifoat(d.as_fd(), Path::new(crate::state::FIFO), 0o622).map_err(Error::path(&p))?;
    std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o622))
        .map_err(Error::path(&p))?;
    Ok(p)
}

/// `LISTEN_FDS=n` and `LISTEN_PID=1` in the process's environment, replacing any there.
fn socket_activation(spec: &mut Spec, n: u32) {
    if let Some(p) = spec.process_mut() {
        let mut env = p.env().clone().unwrap_or_default();
        env.retain(|e| !e.starts_with("LISTEN_FDS=") && !e.starts_with("LISTEN_PID="));
        env.push(format!("LISTEN_FDS={n}"));
        env.push("LISTEN_PID=1".to_string());
        p.set_env(Some(env));
    }
}

/// `root.path`, relative to the bundle unless absolute; it must exist.
fn rootfs_path(bundle: &Path, spec: &Spec) -> Result<PathBuf, Error> {
    let root = spec
        .root()
        .as_ref()
        .map(|r| r.path().clone())
        .unwrap_or_default();
    let p = if root.is_absolute() {
        root
    } else {
        bundle.join(root)
    };
    let canon = std::fs::canonicalize(&p).map_err(|source| Error::Path {
        path: p.clone(),
        source,
    })?;
    if !canon.is_dir() {
        return Err(Error::Usage(format!(
            "root.path {}: not a directory",
            p.display()
        )));
    }
    Ok(canon)
}

/// runc's rules: a terminal needs someone to hand it to; a console socket needs a terminal.
fn check_terminal(spec: &Spec, opts: &CreateOptions, detached: bool) -> Result<(), Error> {
    let terminal = spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    if terminal && detached && opts.console_socket.is_none() {
        return Err(Error::Usage(
            "process.terminal is true: --console-socket is required".into(),
        ));
    }
    if !terminal && opts.console_socket.is_some() {
        return Err(Error::Usage(
            "--console-socket given but process.terminal is false".into(),
        ));
    }
    Ok(())
}

fn connect_console(path: &Path) -> Result<OwnedFd, Error> {
    let s = UnixStream::connect(path).map_err(Error::path(path))?;
    Ok(OwnedFd::from(s))
}

/// Writes the pid file atomically, as containerd's shim expects.
pub(crate) fn write_pid_file(path: &Path, pid: i32) -> Result<(), Error> {
    write_atomic(path, pid.to_string().as_bytes()).map_err(Error::path(path))
}
