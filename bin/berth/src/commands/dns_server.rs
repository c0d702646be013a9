//! `berth dns-server NETWORK` (hidden): the DNS server of a network, started by berth
//! itself; see `berth_network::dns`.

use crate::context::Context;

#[derive(clap::Args)]
pub struct Args {
    network: String,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    Ok(berth_engine::dns_server(
        &ctx.root,
        &ctx.config,
        &a.network,
    )?)
}
