//! `exec`: run another process in a running container. It joins every namespace of the
//! container's init, its cgroup, and takes the same last steps as the init (user,
//! capabilities, no_new_privs, seccomp, terminal) before executing.

use crate::cgroup::SubCgroup;
use crate::create::write_pid_file;
use crate::kill::init_pidfd;
use crate::process::namespaces::{self, flag};
use crate::process::parent::spawn_tenant;
use crate::process::tenant::Tenant;
use crate::process::CgroupJoin;
use crate::security::{cache_dir, Seccomp};
use crate::state::Status;
use crate::{foreground, Error, Runtime};
use berth_sys::fs as sysfs;
use oci_spec::runtime::{Capability, Process, Spec};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Options of `exec`, as runc spells them.
#[derive(Clone, Debug, Default)]
pub struct ExecOptions {
    pub id: String,
    /// A process.json replacing everything else.
    pub process_file: Option<PathBuf>,
    pub args: Vec<String>,
    pub tty: bool,
    pub console_socket: Option<PathBuf>,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    /// In the foreground: gets one byte once the process runs (its program executed), so
    /// that whoever follows this exec can tell a start from a failure to start.
    pub started: Option<std::sync::Arc<OwnedFd>>,
    pub cwd: Option<PathBuf>,
    pub env: Vec<String>,
    /// `uid[:gid]`.
    pub user: Option<String>,
    pub additional_gids: Vec<u32>,
    pub caps: Vec<String>,
    /// Overrides the container's `noNewPrivileges` when given.
    pub no_new_privs: Option<bool>,
    pub preserve_fds: u32,
    pub process_label: Option<String>,
    pub apparmor: Option<String>,
    /// A sub-cgroup of the container's (cgroup v2).
    pub cgroup: Option<String>,
    /// Exec into a paused container too (runc's `--ignore-paused`): the process joins the
    /// frozen cgroup and runs once the container is resumed.
    pub ignore_paused: bool,
}

/// Runs the process; returns its exit status in the foreground, 0 when detached.
pub fn exec(rt: &Runtime, o: &ExecOptions) -> Result<i32, Error> {
    if o.process_label.as_deref().is_some_and(|s| !s.is_empty()) {
        return Err(Error::Usage(
            "--process-label: SELinux is not supported by berth-runtime on this host".into(),
        ));
    }
    if o.apparmor.as_deref().is_some_and(|s| !s.is_empty()) {
        return Err(Error::Usage(
            "--apparmor: AppArmor is not supported by berth-runtime on this host".into(),
        ));
    }
    let dir = rt.root.peek(&o.id)?;
    let saved = dir.load()?;
    let status = dir.status(saved.as_ref())?;
    let allowed = match status {
        Status::Created | Status::Running => true,
        Status::Paused => o.ignore_paused,
        _ => false,
    };
    let Some(saved) = saved.filter(|_| allowed) else {
        return Err(Error::WrongStatus {
            id: o.id.clone(),
            status,
            action: if status == Status::Paused {
                "exec in it (use --ignore-paused to exec anyway)"
            } else {
                "exec in it"
            },
        });
    };
    let mut process = build_process(&saved.config, o)?;
    if let Some((field, id)) = crate::spec::id_out_of_range(process.user()) {
        let field = field.trim_start_matches("process.");
        return Err(Error::Usage(format!(
            "{field}: {}",
            crate::spec::out_of_range(id)
        )));
    }
    crate::spec::drop_unavailable(&mut process, crate::prepared::has_userns(&saved.config));
    let terminal = process.terminal().unwrap_or(false);
    if terminal && o.detach && o.console_socket.is_none() {
        return Err(Error::Usage(
            "--tty with --detach needs --console-socket".into(),
        ));
    }
    if !terminal && o.console_socket.is_some() {
        return Err(Error::Usage("--console-socket needs --tty".into()));
    }
    let Some(init) = init_pidfd(&saved)? else {
        return Err(Error::WrongStatus {
            id: o.id.clone(),
            status: Status::Stopped,
            action: "exec in it",
        });
    };
    let console_socket = match &o.console_socket {
        Some(p) => Some(OwnedFd::from(
            UnixStream::connect(p).map_err(Error::path(p))?,
        )),
        None => None,
    };
    let cgroup = match &saved.cgroup {
        Some(m) => Some(SubCgroup::open(m, o.cgroup.as_deref())?),
        None if o.cgroup.is_some() => {
            return Err(Error::Usage("--cgroup: the container has no cgroup".into()))
        }
        None => None,
    };
    // Without a mount namespace of its own the init was chrooted into root.path; so is
    // this process (the pidfd above makes sure the pid is still the init's).
    let root = if namespaces::plan(&saved.config, false).new_mount {
        None
    } else {
        let path = format!("/proc/{}/root", saved.pid);
        Some(
            sysfs::open(Path::new(&path), libc::O_PATH | libc::O_DIRECTORY, 0)
                .map_err(Error::path(&path))?,
        )
    };
    let seccomp = Seccomp::prepare(
        &saved.config,
        &saved.id,
        &saved.bundle,
        &cache_dir(rt.root.path()),
    )
    .map_err(|e| Error::Usage(e.to_string()))?;
    let tenant = Tenant {
        process: &process,
        seccomp: seccomp.as_ref(),
        keep_groups: crate::spec::keeps_original_groups(&saved.config),
        init: init.as_fd(),
        namespaces: namespace_flags(&saved.config),
        root: root.as_ref().map(|r| r.as_fd()),
        personality: crate::init::attrs::personality(&saved.config),
        console_socket,
        relay_terminal: terminal && !o.detach,
        preserve_fds: o.preserve_fds,
        cgroup: cgroup.as_ref().map(|c| c as &dyn CgroupJoin),
    };
    let launch = |t: &Tenant<'_>| -> Result<crate::process::parent::Spawned, Error> {
        let spawned = spawn_tenant(t)?;
        if let Some(p) = &o.pid_file {
            write_pid_file(p, spawned.pid)?;
        }
        Ok(spawned)
    };
    if o.detach {
        let spawned = launch(&tenant)?;
        return foreground::start(&spawned.channel).map(|()| 0);
    }
    foreground::session(|sigfd| {
        let spawned = launch(&tenant)?;
        let terminal = foreground::Relay::for_pty(spawned.master.as_ref());
        foreground::start(&spawned.channel)?;
        if let Some(fd) = &o.started {
            // A follower that went away only misses the news.
            let _ = sysfs::write_all(fd.as_fd(), b"1");
        }
        foreground::attend(spawned.pid, sigfd, terminal, None, None)
    })
}

/// Every namespace the container has, new or joined: the exec'd process shares them all.
fn namespace_flags(spec: &Spec) -> libc::c_int {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .into_iter()
        .flatten()
        .fold(0, |f, n| f | flag(n.typ()))
}

/// The process to run: `--process FILE`, or the container's own process with the command
/// line and flags applied on top (runc's rules).
fn build_process(spec: &Spec, o: &ExecOptions) -> Result<Process, Error> {
    if let Some(path) = &o.process_file {
        let data = std::fs::read(path).map_err(Error::path(path))?;
        let de = &mut serde_json::Deserializer::from_slice(&data);
        let p: Process = serde_path_to_error::deserialize(de).map_err(|e| {
            Error::Usage(format!("{}: {}: {}", path.display(), e.path(), e.inner()))
        })?;
        if p.args().as_ref().is_none_or(|a| a.is_empty()) {
            return Err(Error::Usage(format!("{}: args: empty", path.display())));
        }
        return Ok(p);
    }
    if o.args.is_empty() {
        return Err(Error::Usage(
            "exec: no command given (and no --process)".into(),
        ));
    }
    let mut p = spec.process().clone().unwrap_or_default();
    p.set_args(Some(o.args.clone()));
    p.set_terminal(Some(o.tty));
    let mut env = p.env().clone().unwrap_or_default();
    for kv in &o.env {
        let key = kv.split_once('=').map_or(kv.as_str(), |(k, _)| k);
        env.retain(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) != key);
        env.push(kv.clone());
    }
    p.set_env(Some(env));
    if let Some(cwd) = &o.cwd {
        p.set_cwd(cwd.clone());
    }
    let mut user = p.user().clone();
    if let Some(u) = &o.user {
        let (uid, gid) = match u.split_once(':') {
            Some((a, b)) => (a, Some(b)),
            None => (u.as_str(), None),
        };
        let bad = || Error::Usage(format!("--user {u:?}: want UID[:GID] as numbers"));
        user.set_uid(uid.parse().map_err(|_| bad())?);
        user.set_gid(
            gid.map(str::parse)
                .transpose()
                .map_err(|_| bad())?
                .unwrap_or(0),
        );
    }
    if !o.additional_gids.is_empty() {
        user.set_additional_gids(Some(o.additional_gids.clone()));
    }
    p.set_user(user);
    if let Some(nnp) = o.no_new_privs {
        p.set_no_new_privileges(Some(nnp));
    }
    if !o.caps.is_empty() {
        let mut caps = p.capabilities().clone().unwrap_or_default();
        let mut added = Vec::new();
        // Unknown names are skipped with a warning, as runc and crun do.
        for name in &o.caps {
            let stripped = name.to_ascii_uppercase();
            match Capability::from_str(stripped.trim_start_matches("CAP_")) {
                Ok(c) => added.push(c),
                Err(_) => tracing::warn!("--cap {name:?}: unknown capability, ignored"),
            }
        }
        let with = |set: &Option<oci_spec::runtime::Capabilities>| {
            let mut s = set.clone().unwrap_or_default();
            s.extend(added.iter().copied());
            s
        };
        // Not the inheritable set: a process given it could pass the capability on through
        // exec of a file with matching inheritable bits (runc's CVE-2022-29162).
        let (b, e, pm) = (
            with(caps.bounding()),
            with(caps.effective()),
            with(caps.permitted()),
        );
        caps.set_bounding(Some(b));
        caps.set_effective(Some(e));
        caps.set_permitted(Some(pm));
        p.set_capabilities(Some(caps));
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Spec {
        crate::spec::parse(
            br#"{"ociVersion":"1.2.0","root":{"path":"r"},"process":{"args":["sh"],"cwd":"/",
            "env":["PATH=/bin","A=1"],"user":{"uid":0,"gid":0},
            "capabilities":{"bounding":["CAP_KILL"]}},
            "linux":{"namespaces":[{"type":"pid"},{"type":"mount"},{"type":"network","path":"/x"}]}}"#,
        )
        .unwrap()
    }

    #[test]
    fn flags_override_the_containers_process() {
        let o = ExecOptions {
            args: vec!["ls".into(), "-l".into()],
            env: vec!["A=2".into(), "B=3".into()],
            user: Some("1000:100".into()),
            cwd: Some("/tmp".into()),
            caps: vec!["net_admin".into()],
            ..Default::default()
        };
        let p = build_process(&spec(), &o).unwrap();
        assert_eq!(
            p.args().as_ref().unwrap(),
            &vec!["ls".to_string(), "-l".to_string()]
        );
        assert_eq!(
            p.env().as_ref().unwrap(),
            &vec!["PATH=/bin".to_string(), "A=2".into(), "B=3".into()]
        );
        assert_eq!((p.user().uid(), p.user().gid()), (1000, 100));
        assert_eq!(p.cwd(), &PathBuf::from("/tmp"));
        let b = p
            .capabilities()
            .as_ref()
            .unwrap()
            .bounding()
            .as_ref()
            .unwrap();
        assert!(b.contains(&Capability::NetAdmin) && b.contains(&Capability::Kill));
        assert!(build_process(
            &spec(),
            &ExecOptions {
                user: Some("x".into()),
                args: vec!["a".into()],
                ..Default::default()
            }
        )
        .is_err());
        assert!(build_process(&spec(), &ExecOptions::default()).is_err());
    }

    #[test]
    fn joins_every_namespace_of_the_container() {
        assert_eq!(
            namespace_flags(&spec()),
            libc::CLONE_NEWPID | libc::CLONE_NEWNS | libc::CLONE_NEWNET
        );
    }
}
