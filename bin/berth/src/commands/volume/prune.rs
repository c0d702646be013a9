//! `berth volume prune [-a] [-f] [--filter label=...]`: remove the volumes no container uses,
//! only anonymous ones unless `-a`, as docker 23 and later.

use crate::commands::filters::{self, label_matches};
use crate::commands::{confirm, human_size};
use crate::context::Context;

/// Remove unused volumes.
#[derive(clap::Args)]
pub struct Args {
    /// Named volumes too, not only anonymous ones.
    #[arg(short, long)]
    all: bool,
    /// Do not ask for confirmation.
    #[arg(short, long)]
    force: bool,
    /// label=KEY[=VALUE] (volumes with it) or label!=KEY[=VALUE] (volumes without).
    #[arg(long = "filter", value_name = "FILTER")]
    filters: Vec<String>,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    let filters = filters::parse(&a.filters, &["label", "label!"])?;
    let engine = ctx.engine()?;
    let which = if a.all { "all" } else { "anonymous" };
    let warning =
        format!("This will remove {which} local volumes not used by at least one container.");
    if !a.force && !confirm(&warning)? {
        return Ok(());
    }
    let removed = engine.prune_volumes(a.all, &|v| {
        filters.keep(|k, value| label_matches(&v.spec.labels, value) == (k == "label"))
    })?;
    if !removed.is_empty() {
        println!("Deleted Volumes:");
        for (name, _) in &removed {
            println!("{name}");
        }
        println!();
    }
    let total = removed.iter().map(|(_, size)| size).sum();
    println!("Total reclaimed space: {}", human_size(total));
    Ok(())
}
