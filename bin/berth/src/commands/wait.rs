//! `berth wait CONTAINER...`: block until the containers stop; print their exit statuses.

use crate::context::Context;

/// Wait for containers to stop; print their exit statuses.
#[derive(clap::Args)]
pub struct Args {
    /// Containers (names or ids).
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    let engine = ctx.engine()?;
    for c in &a.containers {
        println!("{}", engine.wait(c)?);
    }
    Ok(())
}
