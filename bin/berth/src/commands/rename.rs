//! `berth rename CONTAINER NEW_NAME`.

use crate::context::Context;

/// Give a container another name.
#[derive(clap::Args)]
pub struct Args {
    /// Container (name or id).
    container: String,
    /// Its new name.
    new_name: String,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    ctx.engine()?.rename(&a.container, &a.new_name)?;
    Ok(())
}
