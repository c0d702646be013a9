//! `berth images [REPOSITORY[:TAG]]`: list images, with docker's columns, filters and formats.

use anyhow::{bail, Context as _};
use berth_image::store::{Image, Store};
use serde_json::json;

use super::filters::label_matches;
use super::{human_size, since};
use crate::context::Context;
use crate::format::{self, Columns};

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
            .all(|(k, v)| keep(&store, &img, &name, &tag, k, v))
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

/// Whether image `img`, listed as `name:tag`, passes filter `key=value`.
fn keep(store: &Store, img: &Image, name: &str, tag: &str, key: &str, value: &str) -> bool {
    let created = |i: &Image| i.config.created().clone().unwrap_or_default();
    match key {
        // berth removes an image once it has no name: nothing dangles.
        "dangling" => value == "false",
        "reference" => {
            let short = name.strip_prefix("docker.io/library/").unwrap_or(name);
            [name, short]
                .iter()
                .any(|n| wildcard(value, n) || wildcard(value, &format!("{n}:{tag}")))
        }
        "label" => {
            let labels = img
                .config
                .config()
                .as_ref()
                .and_then(|c| c.labels().clone())
                .unwrap_or_default();
            label_matches(&labels, value)
        }
        "before" | "since" => store.image(value).is_ok_and(|other| {
            let (mine, theirs) = (created(img), created(&other));
            match key {
                "before" => mine < theirs,
                _ => mine > theirs,
            }
        }),
        _ => false,
    }
}

/// Go's `path.Match` on a name: `*` matches any run of characters but `/`, `?` one of them.
fn wildcard(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // The classic two-pointer match with one star to backtrack to.
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < n.len() {
        if i < p.len() && (p[i] == n[j] || (p[i] == '?' && n[j] != '/')) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star.filter(|_| n[mark] != '/') {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::wildcard;

    #[test]
    fn patterns_match_as_gos_path_match() {
        assert!(wildcard("busybox", "busybox"));
        assert!(wildcard("busy*", "busybox"));
        assert!(wildcard("*box:lat?st", "busybox:latest"));
        assert!(wildcard("localhost/*", "localhost/app"));
        assert!(!wildcard("*", "localhost/app"));
        assert!(!wildcard("busy", "busybox"));
        assert!(wildcard("*/*:1", "localhost/x:1"));
    }
}
