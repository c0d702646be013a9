//! `exec`: run another program in a running container, through the runtime core's `exec`
//! (it joins the container's namespaces, cgroup and security settings).

use crate::options::{env_files, env_list};
use crate::record::State;
use crate::run::stdin_unless_interactive;
use crate::{Engine, Error};
use berth_image::spec::resolve_user;
use std::path::PathBuf;

/// The flags of `exec`.
#[derive(Clone, Debug, Default)]
pub struct ExecOptions {
    pub command: Vec<String>,
    pub tty: bool,
    pub interactive: bool,
    pub detach: bool,
    /// `KEY=VALUE`, or `KEY` to take berth's value.
    pub env: Vec<String>,
    /// `user[:group]`, names resolved in the image's /etc/passwd and /etc/group.
    pub user: Option<String>,
    pub workdir: Option<String>,
    /// Files of `KEY=VALUE` lines, before `env`.
    pub env_files: Vec<std::path::PathBuf>,
    /// Every capability berth holds, for this process.
    pub privileged: bool,
    /// Gets one byte once the program runs (see `berth_container::exec::ExecOptions`).
    pub started: Option<std::sync::Arc<std::os::fd::OwnedFd>>,
}

impl Engine {
    /// Runs the program; its exit status, or 0 when detached.
    pub fn exec(&self, what: &str, o: &ExecOptions) -> Result<i32, Error> {
        let r = self.settled(what)?;
        if r.state != State::Running {
            return Err(Error::WrongState {
                name: r.name,
                state: r.state.to_string(),
                action: "exec in it",
            });
        }
        let failed = |reason: &str| Error::Failed {
            name: r.name.clone(),
            reason: reason.to_string(),
        };
        if o.command.is_empty() {
            return Err(failed("exec: no command given"));
        }
        if o.detach && o.tty {
            return Err(failed("exec: -d with -t is not supported"));
        }
        if o.workdir.as_deref().is_some_and(|w| !w.starts_with('/')) {
            return Err(failed("exec: --workdir must be an absolute path"));
        }
        let (user, additional_gids) = match &o.user {
            Some(u) => {
                let image = self.store.image(&r.image_id)?;
                let read = |p: &str| self.store.read_image_file(&image, p).ok().flatten();
                let id = resolve_user(u, &read, &r.image)?;
                (Some(format!("{}:{}", id.uid, id.gid)), id.additional_gids)
            }
            None => (None, Vec::new()),
        };
        let opts = berth_container::exec::ExecOptions {
            id: r.id.clone(),
            args: o.command.clone(),
            tty: o.tty,
            detach: o.detach,
            started: o.started.clone(),
            env: {
                let getenv = |k: &str| std::env::var(k).ok();
                let mut env = env_files(&o.env_files, &getenv)?;
                env.extend(env_list(&o.env, &getenv)?);
                env
            },
            cwd: o.workdir.as_ref().map(PathBuf::from),
            user,
            additional_gids,
            caps: match o.privileged {
                true => crate::config::all_caps()
                    .into_iter()
                    .map(String::from)
                    .collect(),
                false => Vec::new(),
            },
            ..Default::default()
        };
        if !o.detach {
            stdin_unless_interactive(o.interactive)?;
        }
        let command = o.command.join(" ");
        self.event(&r, "exec_start", &[("command", &command)]);
        let code =
            berth_container::exec::exec(&self.runtime, &opts).map_err(Error::runtime(&r.name))?;
        if !o.detach {
            self.event(
                &r,
                "exec_die",
                &[("command", &command), ("exitCode", &code.to_string())],
            );
        }
        Ok(code)
    }
}
