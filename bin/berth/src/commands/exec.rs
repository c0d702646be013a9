//! `berth exec [-i] [-t] [-d] [-e ENV] [--env-file F] [-u USER] [-w DIR] [--privileged]
//! CONTAINER COMMAND [ARG...]`

use berth_engine::exec::ExecOptions;

use crate::context::Context;

/// Run a command in a running container.
#[derive(clap::Args)]
pub struct Args {
    /// Keep stdin attached.
    #[arg(short, long)]
    interactive: bool,
    /// Give the process a terminal.
    #[arg(short, long)]
    tty: bool,
    /// Run in the background.
    #[arg(short, long)]
    detach: bool,
    /// Set an environment variable (KEY=VALUE, or KEY to pass berth's value).
    #[arg(short, long = "env", value_name = "KEY[=VALUE]")]
    env: Vec<String>,
    /// User (name or uid) and group: USER[:GROUP].
    #[arg(short, long)]
    user: Option<String>,
    /// Working directory inside the container.
    #[arg(short, long)]
    workdir: Option<String>,
    /// Read environment variables from a file of KEY=VALUE lines.
    #[arg(long = "env-file", value_name = "FILE")]
    env_file: Vec<std::path::PathBuf>,
    /// Every capability berth holds, for this process only.
    #[arg(long)]
    privileged: bool,
    /// Write one byte to fd 3 once the program runs (for the API service, which follows a
    /// detached exec to its end).
    #[arg(long, hide = true)]
    notify_start: bool,
    /// Container (name or id), then the command and its arguments. As in docker, flags end
    /// at the container: what follows it is the command's.
    #[arg(value_name = "CONTAINER COMMAND [ARG...]", required = true, num_args = 2.., trailing_var_arg = true)]
    container_and_command: Vec<String>,
}

/// The fd `--notify-start` writes to.
const NOTIFY_START_FD: std::os::fd::RawFd = 3;

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<i32> {
    let started = match a.notify_start {
        true => Some(
            berth_sys::fs::take_inherited(NOTIFY_START_FD)?
                .ok_or_else(|| anyhow::anyhow!("--notify-start: fd 3 is not open"))?,
        ),
        false => None,
    };
    let mut words = a.container_and_command.into_iter();
    let container = words.next().unwrap_or_default();
    let opts = ExecOptions {
        command: words.collect(),
        tty: a.tty,
        interactive: a.interactive,
        detach: a.detach,
        env: a.env,
        env_files: a.env_file,
        privileged: a.privileged,
        user: a.user,
        workdir: a.workdir,
        started: started.map(std::sync::Arc::new),
    };
    Ok(ctx.engine()?.exec(&container, &opts)?)
}
