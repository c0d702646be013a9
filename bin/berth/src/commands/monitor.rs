//! `berth monitor [--wait-attach] ID` (hidden): the monitor of a detached container; see
//! `berth_engine::monitor`.

use crate::context::Context;

#[derive(clap::Args)]
pub struct Args {
    /// Start the container once a first attach client is there (`start -a`).
    #[arg(long)]
    wait_attach: bool,
    id: String,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<i32> {
    Ok(berth_engine::monitor::monitor(
        &ctx.root,
        &ctx.config,
        &a.id,
        a.wait_attach,
    )?)
}
