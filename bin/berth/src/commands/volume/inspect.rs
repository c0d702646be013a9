//! `berth volume inspect [-f FORMAT] VOLUME...`: volumes as docker shows them.

use crate::context::Context;
use crate::format::{self, Columns};

/// Show volumes' details as JSON.
#[derive(clap::Args)]
pub struct Args {
    /// A Go template applied to each (`{{.Mountpoint}}`), or `json`.
    #[arg(short, long)]
    format: Option<String>,
    /// Volumes.
    #[arg(required = true)]
    names: Vec<String>,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    let engine = ctx.engine()?;
    let mut out = Vec::new();
    for name in &a.names {
        out.push(engine.volume(name)?.inspect_json());
    }
    match &a.format {
        None => println!("{}", serde_json::to_string_pretty(&out)?),
        Some(f) => format::print(Some(f), &out, &Columns::NONE)?,
    }
    Ok(())
}
