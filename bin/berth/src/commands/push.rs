//! `berth push [--tls-verify=false] IMAGE [DEST]`

use anyhow::Context as _;
use berth_image::{registry, Reference};

use super::TlsArgs;
use crate::context::Context;

/// Push an image to a registry.
#[derive(clap::Args)]
pub struct Args {
    /// Local image (name or ID).
    image: String,
    /// Where to push; default: the image's own name.
    dest: Option<String>,
    /// Print nothing but the manifest digest.
    #[arg(short, long)]
    quiet: bool,
    #[command(flatten)]
    tls: TlsArgs,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let image = store.image(&a.image)?;
    let dest = Reference::parse(a.dest.as_deref().unwrap_or(&a.image))?;
    let cfg = ctx.registry_config(a.tls.tls_verify)?;
    let progress = crate::progress::for_stderr(a.quiet);
    let digest = registry::push(&store, &image, &dest, &cfg, progress.as_ref())
        .with_context(|| format!("pushing {dest}"))?;
    ctx.image_event("push", &image.id.to_string(), &dest.to_string());
    println!("{digest}");
    Ok(())
}
