//! `berth create [FLAGS] IMAGE [COMMAND [ARG...]]`: make a container without starting it.

use super::run::ContainerArgs;
use crate::context::Context;

/// Create a container without starting it.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    container: ContainerArgs,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    let r = ctx.engine()?.create(&a.container.options(true))?;
    println!("{}", r.id);
    Ok(())
}
