//! `resume`.

use anyhow::{Context, Result};
use berth_container::Runtime;
use clap::Args;

#[derive(Args, Debug)]
pub struct ResumeArgs {
    /// The container id.
    pub id: String,
}

pub fn run(rt: &Runtime, a: &ResumeArgs) -> Result<()> {
    berth_container::pause::resume(rt, &a.id).with_context(|| format!("resume {}", a.id))
}
