//! `berth diff CONTAINER`: the container's changes against its image.

use crate::context::Context;
use std::io::Write;

/// Show the files and directories a container added (A), changed (C) or deleted (D).
#[derive(clap::Args)]
pub struct Args {
    /// Container (name or id).
    container: String,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    let changes = ctx.engine()?.diff(&a.container)?;
    let mut out = std::io::stdout().lock();
    for c in changes {
        writeln!(out, "{c}")?;
    }
    Ok(())
}
