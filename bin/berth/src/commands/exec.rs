//! `berth exec [-i] [-t] [-d] [-e ENV] [-u USER] [-w DIR] CONTAINER COMMAND [ARG...]`

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
    /// Container (name or id).
    container: String,
    /// Command and arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<i32> {
    let opts = ExecOptions {
        command: a.command,
        tty: a.tty,
        interactive: a.interactive,
        detach: a.detach,
        env: a.env,
        user: a.user,
        workdir: a.workdir,
    };
    Ok(ctx.engine()?.exec(&a.container, &opts)?)
}
