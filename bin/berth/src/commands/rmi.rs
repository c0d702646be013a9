//! `berth rmi [-f] IMAGE...`: removes names; content no name refers to any more is
//! garbage-collected.

use anyhow::bail;
use berth_image::store::{ImageRecord, Store};
use berth_image::Reference;

use crate::context::Context;

/// Remove images (and the layers no other image uses).
#[derive(clap::Args)]
pub struct Args {
    /// Images (names or IDs). An ID removes every name of that image.
    #[arg(required = true)]
    images: Vec<String>,
    /// Remove even if a container's root filesystem uses the image.
    #[arg(short, long)]
    force: bool,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    let store = ctx.store()?;
    for name in &a.images {
        let names = names_to_remove(&store, name)?;
        let manifest = store.find(name)?;
        let remaining = store
            .records()?
            .iter()
            .filter(|r| r.manifest == manifest && !names.contains(&r.reference))
            .count();
        if remaining == 0 && !a.force {
            if let Some(c) = store.containers_using(&manifest)?.first() {
                bail!("image {name} is in use by container {c} (use --force to remove the name anyway)");
            }
        }
        for r in store.remove_names(&names)? {
            ctx.image_event("untag", &manifest.to_string(), &r.reference.to_string());
            println!("Untagged: {}", r.reference);
        }
    }
    let report = store.gc()?;
    if report.blobs + report.snapshots > 0 {
        ctx.image_event("delete", "", &a.images.join(","));
        println!(
            "Deleted: {} blobs, {} layers",
            report.blobs, report.snapshots
        );
    }
    Ok(())
}

/// The exact name if `name` is one, else every name of the image it identifies.
fn names_to_remove(store: &Store, name: &str) -> anyhow::Result<Vec<Reference>> {
    let records: Vec<ImageRecord> = store.records()?;
    let mut candidates: Vec<Reference> = Reference::parse(name).into_iter().collect();
    if Reference::is_short(name) {
        candidates.extend(Reference::parse_local(name));
    }
    if let Some(r) = candidates
        .iter()
        .find(|c| records.iter().any(|r| r.reference == **c))
    {
        return Ok(vec![r.clone()]);
    }
    let manifest = store.find(name)?;
    Ok(records
        .into_iter()
        .filter(|r| r.manifest == manifest)
        .map(|r| r.reference)
        .collect())
}
