//! `berth restart [-t SECONDS] CONTAINER...`: stop, then start again.

use std::time::Duration;

use crate::context::Context;

/// Stop containers, then start them again.
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
    let monitor = ctx.monitor_command();
    for c in &a.containers {
        engine.restart(c, a.time.map(Duration::from_secs), &monitor)?;
        println!("{c}");
    }
    Ok(())
}
