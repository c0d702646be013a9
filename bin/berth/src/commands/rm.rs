//! `berth rm [-f] CONTAINER...`: remove containers and everything they left.

use crate::context::Context;

/// Remove containers.
#[derive(clap::Args)]
pub struct Args {
    /// Kill running containers first.
    #[arg(short, long)]
    force: bool,
    /// Remove the containers' anonymous volumes too (those no other container uses).
    #[arg(short, long)]
    volumes: bool,
    /// Containers (names or ids).
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    let engine = ctx.engine()?;
    for c in &a.containers {
        engine.remove(c, a.force, a.volumes)?;
        println!("{c}");
    }
    Ok(())
}
