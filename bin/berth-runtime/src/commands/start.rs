//! `start`.

use anyhow::{Context, Result};
use berth_container::Runtime;
use clap::Args;

#[derive(Args, Debug)]
pub struct StartArgs {
    /// The container id.
    pub id: String,
}

pub fn run(rt: &Runtime, a: &StartArgs) -> Result<()> {
    berth_container::start::start(rt, &a.id).with_context(|| format!("start {}", a.id))
}
