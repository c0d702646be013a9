//! `kill`.

use anyhow::{anyhow, Context, Result};
use berth_container::Runtime;
use clap::Args;

#[derive(Args, Debug)]
pub struct KillArgs {
    /// Signal every process of the container, not just its init.
    #[arg(short, long)]
    pub all: bool,
    /// The container id.
    pub id: String,
    /// Signal by name (TERM, SIGKILL) or number; default TERM.
    #[arg(default_value = "TERM")]
    pub signal: String,
}

pub fn run(rt: &Runtime, a: &KillArgs) -> Result<()> {
    let sig = berth_sys::signal::parse(&a.signal)
        .ok_or_else(|| anyhow!("kill {}: unknown signal {:?}", a.id, a.signal))?;
    berth_container::kill::kill(rt, &a.id, sig, a.all).with_context(|| format!("kill {}", a.id))
}
