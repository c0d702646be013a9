//! `berth export [-o FILE] CONTAINER`: the container's file system as a tar archive.

use crate::context::Context;
use anyhow::Context as _;
use std::path::PathBuf;

/// Write a container's file system as a tar archive.
#[derive(clap::Args)]
pub struct Args {
    /// Write to this file instead of stdout.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Container (name or id).
    container: String,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    let engine = ctx.engine()?;
    match &a.output {
        Some(p) => {
            let mut f = std::io::BufWriter::new(
                std::fs::File::create(p).with_context(|| format!("{}", p.display()))?,
            );
            engine.export(&a.container, &mut f)?;
            std::io::Write::flush(&mut f).with_context(|| format!("{}", p.display()))?;
        }
        None => engine.export(&a.container, &mut std::io::stdout().lock())?,
    }
    Ok(())
}
