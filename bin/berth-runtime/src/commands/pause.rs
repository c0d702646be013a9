//! `pause`.

use anyhow::{Context, Result};
use berth_container::Runtime;
use clap::Args;

#[derive(Args, Debug)]
pub struct PauseArgs {
    /// The container id.
    pub id: String,
}

pub fn run(rt: &Runtime, a: &PauseArgs) -> Result<()> {
    berth_container::pause::pause(rt, &a.id).with_context(|| format!("pause {}", a.id))
}
