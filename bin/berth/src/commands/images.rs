//! `berth images [REPOSITORY[:TAG]]`: list images, with docker's columns, filters and formats.

use anyhow::{bail, Context as _};

use serde_json::json;

use super::{human_size, since};
use crate::context::Context;
use crate::format::{self, Columns};
use berth_engine::filters::image_passes;

/// List images.
#[derive(clap::Args)]
pub struct Args {
    /// Only images of this repository (and tag); `*` and `?` match as in docker.
    reference: Option<String>,
    /// Show all images, with the build cache's (intermediate) ones.
    #[arg(short, long)]
    all: bool,
    /// Print only image IDs.
    #[arg(short, long)]
    quiet: bool,
    /// Show manifest digests.
    #[arg(long)]
    digests: bool,
    /// Do not cut IDs short.
    #[arg(long)]
    no_trunc: bool,
    /// KEY=VALUE: dangling (true, false), reference (a pattern), label (KEY or KEY=VALUE),
    /// before and since (an image).
    #[arg(short, long = "filter", value_name = "FILTER")]
    filters: Vec<String>,
    /// `table`, `table TEMPLATE`, `json` or a Go template (docker's fields: .ID .Repository
    /// .Tag .Digest .CreatedSince .CreatedAt .Size).
    #[arg(long)]
    format: Option<String>,
}

const COLUMNS: Columns = Columns {
    default: "{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}",
    headers: &[
        ("ID", "IMAGE ID"),
        ("Repository", "REPOSITORY"),
        ("Tag", "TAG"),
        ("Digest", "DIGEST"),
        ("CreatedSince", "CREATED"),
        ("CreatedAt", "CREATED AT"),
        ("Size", "SIZE"),
    ],
};

const WITH_DIGESTS: Columns = Columns {
    default: "{{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}",
    headers: COLUMNS.headers,
};

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let mut filters: Vec<(String, String)> = Vec::new();
    for f in &a.filters {
        let Some((k, v)) = f.split_once('=') else {
            bail!("--filter {f:?}: want KEY=VALUE");
        };
        match k {
            "dangling" if v == "true" || v == "false" => {}
            "reference" | "label" => {}
            "before" | "since" => {
                store.image(v).with_context(|| format!("--filter {f}"))?;
            }
            _ => bail!(
                "--filter {f:?}: want dangling=true|false, reference=, label=, before= or since="
            ),
        }
        filters.push((k.to_string(), v.to_string()));
    }
    if let Some(r) = &a.reference {
        filters.push(("reference".into(), r.clone()));
    }
    let mut items = Vec::new();
    let mut ids = Vec::new();
    for r in store.records()? {
        let img = store.image_by_manifest(&r.manifest)?;
        let name = r.reference.name().to_string();
        if name == berth_build::builder::CACHE_REPOSITORY && !a.all {
            continue;
        }
        let tag = r.reference.tag().unwrap_or("<none>").to_string();
        if !filters
            .iter()
            .all(|(k, v)| image_passes(&store, &img, &name, &tag, k, v))
        {
            continue;
        }
        let id = img.id.to_string();
        let id = match a.no_trunc {
            true => id,
            false => img.id.short().to_string(),
        };
        if a.quiet {
            if !ids.contains(&id) {
                println!("{id}");
                ids.push(id);
            }
            continue;
        }
        let size: u64 = img.manifest.layers().iter().map(|l| l.size()).sum::<u64>()
            + img.manifest.config().size();
        let created = img.config.created().clone();
        items.push(json!({
            "ID": id,
            "Repository": name,
            "Tag": tag,
            "Digest": r.manifest.to_string(),
            "CreatedSince": since(created.as_deref()),
            "CreatedAt": created.unwrap_or_default(),
            "Size": human_size(size),
        }));
    }
    if a.quiet {
        return Ok(());
    }
    let columns = if a.digests { &WITH_DIGESTS } else { &COLUMNS };
    format::print(a.format.as_deref(), &items, columns)
}
