//! `berth images [-q] [--digests]`

use berth_image::store::ImageRecord;

use super::human_size;
use crate::context::Context;

/// List images.
#[derive(clap::Args)]
pub struct Args {
    /// Print only image IDs.
    #[arg(short, long)]
    quiet: bool,
    /// Show manifest digests.
    #[arg(long)]
    digests: bool,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let records: Vec<ImageRecord> = store.records()?;
    if !a.quiet {
        let digest_col = if a.digests {
            format!("{:<72} ", "DIGEST")
        } else {
            String::new()
        };
        println!(
            "{:<40} {:<16} {digest_col}{:<14} {:<21} SIZE",
            "REPOSITORY", "TAG", "IMAGE ID", "CREATED"
        );
    }
    let mut seen = Vec::new();
    for r in records {
        let img = store.image_by_manifest(&r.manifest)?;
        if a.quiet {
            if !seen.contains(&img.id) {
                println!("{}", img.id.short());
                seen.push(img.id);
            }
            continue;
        }
        let size: u64 = img.manifest.layers().iter().map(|l| l.size()).sum::<u64>()
            + img.manifest.config().size();
        let created = img.config.created().clone().unwrap_or_default();
        let created = created.get(..19).unwrap_or(&created).replace('T', " ");
        let digest_col = if a.digests {
            format!("{:<72} ", r.manifest)
        } else {
            String::new()
        };
        println!(
            "{:<40} {:<16} {digest_col}{:<14} {:<21} {}",
            r.reference.name(),
            r.reference.tag().unwrap_or("<none>"),
            img.id.short(),
            created,
            human_size(size)
        );
    }
    Ok(())
}
