//! `berth stop [-t SECONDS] [-s SIGNAL] CONTAINER...`: the stop signal, then SIGKILL after the timeout.

use std::time::Duration;

use crate::context::Context;

/// Stop containers: their stop signal, then SIGKILL after a timeout.
#[derive(clap::Args)]
pub struct Args {
    /// Seconds to wait before SIGKILL (default: the container's --stop-timeout, else 10).
    #[arg(short = 't', long = "time", visible_alias = "timeout")]
    time: Option<u64>,
    /// Signal to stop with (default: the container's --stop-signal, else the image's, else
    /// SIGTERM).
    #[arg(short, long)]
    signal: Option<String>,
    /// Containers (names or ids).
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    let engine = ctx.engine()?;
    for c in &a.containers {
        engine.stop(c, a.time.map(Duration::from_secs), a.signal.as_deref())?;
        println!("{c}");
    }
    Ok(())
}
