//! `berth pause|unpause CONTAINER...`: freeze or thaw every process of containers.

use crate::context::Context;

// No doc comment: it would be the about text of both commands, replacing their variants'
// (the subcommands' arguments are deferred, and applied after the variants' attributes).
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
