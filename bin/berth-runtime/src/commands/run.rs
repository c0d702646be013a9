//! `run`.

use super::create::CommonCreate;
use anyhow::{Context, Result};
use berth_container::Runtime;
use clap::Args;

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub common: CommonCreate,
    /// Return once the container runs instead of waiting for it.
    #[arg(short, long)]
    pub detach: bool,
    /// Accepted for runc compatibility: `run` always reaps as a subreaper.
    #[arg(long, hide = true)]
    pub no_subreaper: bool,
}

/// Returns the container's exit status (foreground) or 0 (detached).
pub fn run(rt: &Runtime, a: &RunArgs) -> Result<i32> {
    berth_container::run::run(rt, &a.common.options()?, a.detach)
        .with_context(|| format!("run {}", a.common.id))
}
