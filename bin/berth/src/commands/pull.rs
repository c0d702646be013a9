//! `berth pull [--platform P] [--tls-verify=false] [-q] REF`

use anyhow::Context as _;
use berth_image::registry::{self, Platform, PullOptions};
use berth_image::Reference;

use super::TlsArgs;
use crate::context::Context;

/// Pull an image from a registry.
#[derive(clap::Args)]
pub struct Args {
    /// Image reference, e.g. `busybox`, `127.0.0.1:5000/debian:bookworm`.
    reference: String,
    /// Platform to pull from a multi-platform image (os/arch[/variant]); default: this host.
    #[arg(long)]
    platform: Option<Platform>,
    /// Layers to fetch at once.
    #[arg(long, default_value_t = 4)]
    parallel: usize,
    /// Print only the image ID.
    #[arg(short, long)]
    quiet: bool,
    #[command(flatten)]
    tls: TlsArgs,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    let reference = Reference::parse(&a.reference)?;
    let store = ctx.store()?;
    let opts = PullOptions {
        platform: a.platform.unwrap_or_else(Platform::host),
        config: ctx.registry_config(a.tls.tls_verify)?,
        parallel: a.parallel,
    };
    let progress = crate::progress::for_stderr(a.quiet);
    let image = registry::pull(&store, &reference, &opts, progress.as_ref())
        .with_context(|| format!("pulling {reference}"))?;
    ctx.image_event("pull", &image.id.to_string(), &reference.to_string());
    println!("{}", image.id);
    Ok(())
}
