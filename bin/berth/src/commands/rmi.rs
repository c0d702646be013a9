//! `berth rmi [-f] IMAGE...`: removes names; content no name refers to any more is
//! garbage-collected.

use berth_engine::images::Images;

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
    let images = Images::new(&store, &ctx.root);
    for name in &a.images {
        for n in images.untag_image(name, a.force)?.names {
            println!("Untagged: {n}");
        }
    }
    let (blobs, layers) = images.collect(&a.images.join(","))?;
    if blobs + layers > 0 {
        println!("Deleted: {blobs} blobs, {layers} layers");
    }
    Ok(())
}
