//! `berth start CONTAINER...`: run created or exited containers in the background.

use crate::context::Context;

/// Start created or exited containers in the background.
#[derive(clap::Args)]
pub struct Args {
    /// Containers (names or ids).
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    let engine = ctx.engine()?;
    let monitor = ctx.monitor_command();
    for c in &a.containers {
        engine.start(c, &monitor)?;
        println!("{c}");
    }
    Ok(())
}
