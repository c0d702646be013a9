//! `berth tag IMAGE NEW_NAME...`

use berth_image::Reference;

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
    let digest = store.find(&a.image)?;
    let img = store.image_by_manifest(&digest)?;
    let size = store.read_blob(&digest)?.len() as u64;
    for n in &a.names {
        let r = Reference::parse_local(n)?;
        store.set_name(&r, &digest, &img.manifest_media_type, size)?;
        ctx.image_event("tag", &img.id.to_string(), &r.to_string());
    }
    Ok(())
}
