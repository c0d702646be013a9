//! `berth top CONTAINER [PS-OPTIONS...]`: the container's processes.

use crate::context::Context;

/// Show a container's processes.
#[derive(clap::Args)]
pub struct Args {
    /// Container (name or id).
    container: String,
    /// Options for ps (default -ef).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    ps_options: Vec<String>,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    print!("{}", ctx.engine()?.top(&a.container, &a.ps_options)?);
    Ok(())
}
