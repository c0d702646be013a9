//! `berth start [-a [-i]] CONTAINER...`: run created or exited containers in the background,
//! or with `-a` attached here.

use crate::context::Context;

/// Start created or exited containers in the background.
#[derive(clap::Args)]
pub struct Args {
    /// Every container a restart policy brings back after a reboot: always, unless-stopped
    /// (unless stopped by hand), on-failure (after a failure). For boot time; see
    /// `berth generate systemd`.
    #[arg(long, conflicts_with = "containers")]
    all_restartable: bool,
    /// Attach to its output (and its stdin with -i); the exit status is the container's.
    #[arg(short, long)]
    attach: bool,
    /// With -a, send this terminal's input to its stdin.
    #[arg(short, long, requires = "attach")]
    interactive: bool,
    #[command(flatten)]
    relay: super::attach::RelayArgs,
    /// Containers (names or ids).
    #[arg(required_unless_present = "all_restartable")]
    containers: Vec<String>,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<i32> {
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
        return Ok(0);
    }
    if a.attach {
        let [c] = a.containers.as_slice() else {
            anyhow::bail!("start -a: one container at a time");
        };
        let keys = a.relay.detach_keys()?;
        let attached = engine.start_attached(c, &monitor)?;
        return super::attach::relay(&engine, attached, a.interactive, keys, a.relay.sig_proxy());
    }
    for c in &a.containers {
        engine.start(c, &monitor)?;
        println!("{c}");
    }
    Ok(0)
}
