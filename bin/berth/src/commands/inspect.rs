//! `berth inspect [--type container|image|volume|network] NAME...`: JSON about containers,
//! images, volumes and networks. A name is looked up in that order (containers by name, id
//! or id prefix), as docker does; `--type` restricts the lookup.

use anyhow::Context as _;
use berth_engine::Engine;
use berth_image::spec::{image_spec, Overrides};
use berth_image::store::{Store, StoreError};
use serde_json::{json, Value};

use crate::context::Context;
use crate::format::{self, Columns};

/// Show containers', images', volumes' or networks' details as JSON.
#[derive(clap::Args)]
pub struct Args {
    /// What to look at (default: whichever the name is, containers first).
    #[arg(long = "type", value_enum)]
    kind: Option<Kind>,
    /// A Go template applied to each (`{{.State.Status}}`), or `json`.
    #[arg(short, long)]
    format: Option<String>,
    /// Containers, images, volumes or networks (names or IDs).
    #[arg(required = true)]
    names: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    Container,
    Image,
    Volume,
    Network,
}

/// docker's lookup order.
const ORDER: [Kind; 4] = [Kind::Container, Kind::Image, Kind::Volume, Kind::Network];

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
    let kinds = a.kind.map_or(ORDER.to_vec(), |k| vec![k]);
    // Without root there are no containers, volumes or networks to look at; images still
    // inspect.
    let (engine, kinds) = match ctx.engine() {
        Ok(e) => (Some(e), kinds),
        Err(e) if !kinds.contains(&Kind::Image) => return Err(e),
        Err(_) => (None, vec![Kind::Image]),
    };
    let store = ctx.store()?;
    let mut out = Vec::new();
    for name in &a.names {
        let mut last = None;
        for &kind in &kinds {
            match lookup(kind, name, engine.as_ref(), &store) {
                Ok(v) => {
                    out.push(v);
                    last = None;
                    break;
                }
                Err(e) if not_found(&e) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        match last {
            Some(e) if kinds.len() == 1 => return Err(e),
            Some(_) => anyhow::bail!("no such object: {name}"),
            None => {}
        }
    }
    match &a.format {
        None => println!("{}", serde_json::to_string_pretty(&out)?),
        Some(f) => format::print(Some(f), &out, &Columns::NONE)?,
    }
    Ok(())
}

/// `name` as a `kind`; kinds other than images need the engine (root).
fn lookup(kind: Kind, name: &str, engine: Option<&Engine>, store: &Store) -> anyhow::Result<Value> {
    let engine = || engine.context("containers, volumes and networks need root");
    Ok(match kind {
        Kind::Container => engine()?.inspect(name)?,
        Kind::Image => image_json(store, name)?,
        Kind::Volume => engine()?.volume(name)?.inspect_json(),
        Kind::Network => engine()?.network_inspect(name)?,
    })
}

/// The lookup found nothing of its kind by that name.
fn not_found(e: &anyhow::Error) -> bool {
    e.downcast_ref::<berth_engine::Error>()
        .is_some_and(berth_engine::Error::is_not_found)
        || matches!(
            e.downcast_ref::<StoreError>(),
            Some(StoreError::NotFound(_))
        )
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
