//! `berth history IMAGE`

use super::human_size;
use crate::context::Context;

/// Show how an image's layers were made.
#[derive(clap::Args)]
pub struct Args {
    /// Image (name or ID).
    image: String,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let img = store.image(&a.image)?;
    let mut sizes = img.manifest.layers().iter().map(|l| l.size()).rev();
    println!(
        "{:<21} {:<60} {:>10}  COMMENT",
        "CREATED", "CREATED BY", "SIZE"
    );
    let history = img.config.history().clone().unwrap_or_default();
    // Newest first, as docker prints it; empty layers (ENV, CMD ...) have no blob.
    for h in history.iter().rev() {
        let size = if h.empty_layer().unwrap_or(false) {
            0
        } else {
            sizes.next().unwrap_or(0)
        };
        let created = h.created().clone().unwrap_or_default();
        let by: String = h
            .created_by()
            .clone()
            .unwrap_or_default()
            .chars()
            .take(60)
            .collect();
        println!(
            "{:<21} {:<60} {:>10}  {}",
            created.get(..19).unwrap_or(&created).replace('T', " "),
            by,
            human_size(size),
            h.comment().clone().unwrap_or_default()
        );
    }
    Ok(())
}
