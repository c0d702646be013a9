//! `berth monitor ID` (hidden): the monitor of a detached container; see
//! `berth_engine::monitor`.

use crate::context::Context;

#[derive(clap::Args)]
pub struct Args {
    id: String,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<i32> {
    Ok(berth_engine::monitor::monitor(
        &ctx.root,
        &ctx.config,
        &a.id,
    )?)
}
