//! `create`: build the container from its bundle and leave its init waiting for `start`.
//! Everything made on the way (state directory, fifo, process) is undone if a step fails.

use crate::cgroup::ContainerCgroup;
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
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
}

/// A container whose init is ready, with its state saved.
pub(crate) struct Built {
    pub dir: ContainerDir,
    pub saved: Saved,
    pub spawned: Spawned,
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
    let spec = spec::load(&bundle)?;
    let rootfs = rootfs_path(&bundle, &spec)?;
    check_terminal(&spec, opts, fifo || !relay_terminal)?;
    let dir = rt.root.create(&opts.id)?;
    // From here on, a failure must remove the directory again.
    match build_in(rt, opts, &spec, &bundle, rootfs, &dir, fifo, relay_terminal) {
        Ok((saved, spawned)) => Ok(Built {
            dir,
            saved,
            spawned,
        }),
        Err(e) => {
            let _ = dir.remove();
            Err(e)
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn build_in(
    rt: &Runtime,
    opts: &CreateOptions,
    spec: &Spec,
    bundle: &Path,
    rootfs: PathBuf,
    dir: &ContainerDir,
    fifo: bool,
    relay_terminal: bool,
) -> Result<(Saved, Spawned), Error> {
    let start = if fifo {
        let p = dir.fifo_path();
        let d = sysfs::open(dir.path(), libc::O_PATH | libc::O_DIRECTORY, 0)
            .map_err(Error::path(dir.path()))?;
        sysfs::mkfifoat(d.as_fd(), Path::new(crate::state::FIFO), 0o622)
            .map_err(Error::path(&p))?;
        // Writable by whoever the container's user is (the umask took that away): the init
        // opens it after becoming that user, possibly in a user namespace.
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o622))
            .map_err(Error::path(&p))?;
        StartSignal::Fifo(p)
    } else {
        StartSignal::Channel
    };
    let console_socket = opts
        .console_socket
        .as_deref()
        .map(connect_console)
        .transpose()?;
    let seccomp = Seccomp::prepare(spec, &opts.id, bundle, &cache_dir(rt.root.path()))
        .map_err(|e| Error::Usage(e.to_string()))?;
    let idmapped = crate::idmap::prepare(spec, bundle)?;
    let cgroup = ContainerCgroup::setup(spec, &opts.id, rt.rootless)?;
    // Should this process die before the state is saved, `delete` finds the cgroup here.
    if let Some(c) = &cgroup {
        if let Err(e) = dir.save_creating(&c.manager) {
            let _ = c.manager.destroy(true);
            return Err(e.into());
        }
    }
    let result = spawn_and_save(
        rt,
        opts,
        spec,
        bundle,
        rootfs,
        dir,
        start,
        console_socket,
        cgroup.as_ref(),
        seccomp.as_ref(),
        &idmapped,
        relay_terminal,
    );
    if result.is_err() {
        if let Some(c) = &cgroup {
            let _ = c.manager.destroy(true);
        }
    }
    result
}

#[allow(clippy::too_many_arguments)]
fn spawn_and_save(
    rt: &Runtime,
    opts: &CreateOptions,
    spec: &Spec,
    bundle: &Path,
    rootfs: PathBuf,
    dir: &ContainerDir,
    start: StartSignal,
    console_socket: Option<OwnedFd>,
    cgroup: Option<&ContainerCgroup>,
    seccomp: Option<&Seccomp>,
    idmapped: &crate::idmap::IdmappedMounts,
    relay_terminal: bool,
) -> Result<(Saved, Spawned), Error> {
    let launch = Launch {
        id: &opts.id,
        spec,
        bundle,
        rootfs,
        start,
        console_socket,
        relay_terminal,
        preserve_fds: opts.preserve_fds,
        no_pivot: opts.no_pivot,
        new_keyring: !opts.no_new_keyring,
        lock_fd: Some(dir.lock_fd()),
        cgroup: cgroup.map(|c| c as &dyn CgroupJoin),
        cgroup_mounts: cgroup.map(|c| c.manager.mounts()).unwrap_or_default(),
        seccomp,
        idmapped,
    };
    let spawned = parent::spawn(&launch)?;
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
        id: opts.id.clone(),
        bundle: bundle.to_path_buf(),
        pid: spawned.pid,
        start_time: stat.start_time,
        created: time::now_rfc3339(),
        owner: ids::geteuid(),
        rootless: rt.rootless,
        config: spec.clone(),
        cgroup: cgroup.map(|c| c.manager.clone()),
    };
    dir.save(&saved).map_err(Error::from).map_err(fail)?;
    if let Some(p) = &opts.pid_file {
        write_pid_file(p, spawned.pid).map_err(fail)?;
    }
    Ok((saved, spawned))
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
