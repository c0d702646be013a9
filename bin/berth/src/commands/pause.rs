//! `berth pause|unpause CONTAINER...`: freeze or thaw every process of containers.

use crate::context::Context;

/// Freeze or thaw every process of containers.
#[derive(clap::Args)]
pub struct Args {
    /// Containers (names or ids).
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn run(a: Args, ctx: &Context, freeze: bool) -> anyhow::Result<()> {
    let engine = ctx.engine()?;
    for c in &a.containers {
        match freeze {
            true => engine.pause(c)?,
            false => engine.unpause(c)?,
        };
        println!("{c}");
    }
    Ok(())
}
