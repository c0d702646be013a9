//! `berth tag IMAGE NEW_NAME...`

use berth_engine::images::Images;

use crate::context::Context;

/// Give an image another name.
#[derive(clap::Args)]
pub struct Args {
    /// Existing image (name or ID).
    image: String,
    /// New names (a name without registry goes under localhost/).
    #[arg(required = true)]
    names: Vec<String>,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let images = Images::new(&store, &ctx.root);
    for n in &a.names {
        images.tag_image(&a.image, n)?;
    }
    Ok(())
}
