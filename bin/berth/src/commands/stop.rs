//! `berth stop [-t SECONDS] CONTAINER...`: the stop signal, then SIGKILL after the timeout.

use std::time::Duration;

use crate::context::Context;

/// Stop containers: their stop signal, then SIGKILL after a timeout.
#[derive(clap::Args)]
pub struct Args {
    /// Seconds to wait before SIGKILL (default: the container's --stop-timeout, else 10).
    #[arg(short = 't', long = "time")]
    time: Option<u64>,
    /// Containers (names or ids).
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    let engine = ctx.engine()?;
    for c in &a.containers {
        engine.stop(c, a.time.map(Duration::from_secs))?;
        println!("{c}");
    }
    Ok(())
}
