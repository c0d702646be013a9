//! `berth start CONTAINER...`: run created or exited containers in the background.

use crate::context::Context;

/// Start created or exited containers in the background.
#[derive(clap::Args)]
pub struct Args {
    /// Every container a restart policy brings back after a reboot: always, unless-stopped
    /// (unless stopped by hand), on-failure (after a failure). For boot time; see
    /// `berth generate systemd`.
    #[arg(long, conflicts_with = "containers")]
    all_restartable: bool,
    /// Containers (names or ids).
    #[arg(required_unless_present = "all_restartable")]
    containers: Vec<String>,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    let engine = ctx.engine()?;
    let monitor = ctx.monitor_command();
    if a.all_restartable {
        let mut failed = 0;
        for (name, started) in engine.start_restartable(&monitor)? {
            match started {
                Ok(()) => println!("{name}"),
                Err(e) => {
                    eprintln!("berth: {e}");
                    failed += 1;
                }
            }
        }
        anyhow::ensure!(failed == 0, "{failed} container(s) did not start");
        return Ok(());
    }
    for c in &a.containers {
        engine.start(c, &monitor)?;
        println!("{c}");
    }
    Ok(())
}
