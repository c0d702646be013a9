//! `berth logs [-f] [-n N] CONTAINER`: the output of a detached container.

use crate::context::Context;

/// Show a detached container's output.
#[derive(clap::Args)]
pub struct Args {
    /// Keep printing until the container stops.
    #[arg(short, long)]
    follow: bool,
    /// Only the last N lines ("all" for everything).
    #[arg(short = 'n', long, default_value = "all")]
    tail: String,
    /// Container (name or id).
    container: String,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    let tail = match a.tail.as_str() {
        "all" => None,
        n => Some(
            n.parse()
                .map_err(|_| anyhow::anyhow!("--tail {n:?}: want a number or all"))?,
        ),
    };
    let mut out = std::io::stdout().lock();
    ctx.engine()?.logs(&a.container, a.follow, tail, &mut out)?;
    Ok(())
}
