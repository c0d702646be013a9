//! `berth inspect IMAGE...`: JSON with the image's identity, config and the container
//! spec berth derives from it.

use anyhow::Context as _;
use berth_image::spec::{image_spec, Overrides};
use serde_json::{json, Value};

use crate::context::Context;

#[derive(clap::Args)]
pub struct Args {
    /// Images (names or IDs).
    #[arg(required = true)]
    images: Vec<String>,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let mut out = Vec::new();
    for name in &a.images {
        let img = store.image(name)?;
        let config: Value = serde_json::from_slice(&store.read_blob(&img.id)?)
            .with_context(|| format!("config of {name}"))?;
        // An image without a command still inspects; its spec is just absent.
        let spec = image_spec(&store, &img, &Overrides::default()).ok();
        let size: u64 = img.manifest.layers().iter().map(|l| l.size()).sum();
        out.push(json!({
            "Id": img.id.to_string(),
            "Digest": img.manifest_digest.to_string(),
            "RepoTags": img.names.iter().filter(|n| n.tag().is_some()).map(ToString::to_string).collect::<Vec<_>>(),
            "RepoDigests": img.names.iter().map(|n| format!("{}@{}", n.name(), img.manifest_digest)).collect::<Vec<_>>(),
            "Created": config.get("created"),
            "Architecture": config.get("architecture"),
            "Os": config.get("os"),
            "Config": config.get("config"),
            "RootFS": config.get("rootfs"),
            "History": config.get("history"),
            "ManifestMediaType": img.manifest_media_type,
            "Size": size,
            "ContainerSpec": spec,
        }));
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
