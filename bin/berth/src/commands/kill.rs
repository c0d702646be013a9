//! `berth kill [-s SIGNAL] CONTAINER...`: signal the containers' main processes.

use crate::context::Context;

/// Send a signal to containers.
#[derive(clap::Args)]
pub struct Args {
    /// Signal name or number.
    #[arg(short, long, default_value = "KILL")]
    signal: String,
    /// Containers (names or ids).
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    let engine = ctx.engine()?;
    for c in &a.containers {
        engine.kill(c, &a.signal)?;
        println!("{c}");
    }
    Ok(())
}
