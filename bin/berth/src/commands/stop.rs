//! `berth stop [-t SECONDS] CONTAINER...`: the stop signal, then SIGKILL after the timeout.

use std::time::Duration;

use crate::context::Context;

/// Stop containers: their stop signal, then SIGKILL after a timeout.
#[derive(clap::Args)]
pub struct Args {
    /// Seconds to wait before SIGKILL.
    #[arg(short = 't', long = "time", default_value_t = 10)]
    time: u64,
    /// Containers (names or ids).
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    let engine = ctx.engine()?;
    for c in &a.containers {
        engine.stop(c, Duration::from_secs(a.time))?;
        println!("{c}");
    }
    Ok(())
}
