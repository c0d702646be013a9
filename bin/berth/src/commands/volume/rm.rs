//! `berth volume rm [-f] VOLUME...`: remove volumes that no container uses.

use crate::context::Context;

/// Remove volumes.
#[derive(clap::Args)]
pub struct Args {
    /// A volume that does not exist is no error.
    #[arg(short, long)]
    force: bool,
    /// Volumes.
    #[arg(required = true)]
    names: Vec<String>,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    let engine = ctx.engine()?;
    for name in &a.names {
        engine.remove_volume(name, a.force)?;
        println!("{name}");
    }
    Ok(())
}
