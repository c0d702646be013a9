//! `berth inspect [--type container|image] NAME...`: JSON about containers and images. A
//! name is looked up among containers first (by name, id or id prefix), then images, as
//! docker does; `--type` restricts the lookup.

use anyhow::Context as _;
use berth_image::spec::{image_spec, Overrides};
use berth_image::store::Store;
use serde_json::{json, Value};

use crate::context::Context;
use crate::format::{self, Columns};

/// Show containers' or images' details as JSON.
#[derive(clap::Args)]
pub struct Args {
    /// What to look at (default: whichever the name is, containers first).
    #[arg(long = "type", value_enum)]
    kind: Option<Kind>,
    /// A Go template applied to each (`{{.State.Status}}`), or `json`.
    #[arg(short, long)]
    format: Option<String>,
    /// Containers or images (names or IDs).
    #[arg(required = true)]
    names: Vec<String>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Kind {
    Container,
    Image,
}

impl Args {
    /// The same arguments, looking at one kind only (`berth container inspect`).
    pub fn only(self, kind: Kind) -> Args {
        Args {
            kind: Some(kind),
            ..self
        }
    }
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    let (containers, images) = match a.kind {
        None => (true, true),
        Some(Kind::Container) => (true, false),
        Some(Kind::Image) => (false, true),
    };
    // Without root there are no containers to look at; images still inspect.
    let engine = match ctx.engine() {
        Ok(e) if containers => Some(e),
        Err(e) if !images => return Err(e),
        _ => None,
    };
    let store = ctx.store()?;
    let mut out = Vec::new();
    for name in &a.names {
        out.push(match (&engine, images) {
            (Some(e), true) => match e.inspect(name) {
                Err(berth_engine::Error::NoSuchContainer(_)) => image_json(&store, name)?,
                r => r?,
            },
            (Some(e), false) => e.inspect(name)?,
            (None, _) => image_json(&store, name)?,
        });
    }
    match &a.format {
        None => println!("{}", serde_json::to_string_pretty(&out)?),
        Some(f) => format::print(Some(f), &out, &Columns::NONE)?,
    }
    Ok(())
}

/// The image's identity, config and the container spec berth derives from it.
fn image_json(store: &Store, name: &str) -> anyhow::Result<Value> {
    let img = store.image(name)?;
    let config: Value = serde_json::from_slice(&store.read_blob(&img.id)?)
        .with_context(|| format!("config of {name}"))?;
    // An image without a command still inspects; its spec is just absent.
    let spec = image_spec(store, &img, &Overrides::default()).ok();
    let size: u64 = img.manifest.layers().iter().map(|l| l.size()).sum();
    Ok(json!({
        "Id": img.id.to_string(),
        "Digest": img.manifest_digest.to_string(),
        "RepoTags": img.names.iter().filter(|n| n.tag().is_some()).map(ToString::to_string).collect::<Vec<_>>(),
        "RepoDigests": img.names.iter().map(|n| format!("{}@{}", n.name(), img.manifest_digest)).collect::<Vec<_>>(),
        "Created": config.get("created"),
        "Architecture": config.get("architecture"),
        "Os": config.get("os"),
        "Author": config.get("author"),
        "Config": config.get("config"),
        "RootFS": config.get("rootfs"),
        "History": config.get("history"),
        "ManifestMediaType": img.manifest_media_type,
        "Size": size,
        "ContainerSpec": spec,
    }))
}
