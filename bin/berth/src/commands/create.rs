//! `berth create [FLAGS] IMAGE [COMMAND [ARG...]]`: make a container without starting it.

use super::run::ContainerArgs;
use crate::context::Context;

/// Create a container without starting it.
#[derive(clap::Args)]
#[command(disable_help_flag = true)]
pub struct Args {
    /// Print help (-h is --hostname, as in docker).
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
    #[command(flatten)]
    container: ContainerArgs,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    let engine = ctx.engine()?;
    a.container.pull_image(ctx, engine.store())?;
    let r = engine.create(&a.container.options(true, ctx))?;
    println!("{}", r.id);
    Ok(())
}
