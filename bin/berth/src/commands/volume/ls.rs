//! `berth volume ls`: list volumes, with docker's columns, filters and formats.

use anyhow::bail;
use berth_engine::volume::VolumeInfo;
use serde_json::{json, Value};

use crate::commands::filters::{self, label_matches};
use crate::context::Context;
use crate::format::{self, Columns};

/// List volumes.
#[derive(clap::Args)]
pub struct Args {
    /// Print names only.
    #[arg(short, long)]
    quiet: bool,
    /// KEY=VALUE: dangling (true: used by no container), name (a part of it), label (KEY or
    /// KEY=VALUE), driver. Filters of one key match any value; different keys all.
    #[arg(short, long = "filter", value_name = "FILTER")]
    filters: Vec<String>,
    /// `table`, `table TEMPLATE`, `json` or a Go template (docker's fields: .Name .Driver
    /// .Scope .Mountpoint .Labels, and .Links, how many containers use it).
    #[arg(long)]
    format: Option<String>,
}

const COLUMNS: Columns = Columns {
    default: "{{.Driver}}\t{{.Name}}",
    headers: &[
        ("Name", "VOLUME NAME"),
        ("Driver", "DRIVER"),
        ("Scope", "SCOPE"),
        ("Mountpoint", "MOUNTPOINT"),
        ("Labels", "LABELS"),
        ("Links", "LINKS"),
    ],
};

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    let filters = filters::parse(&a.filters, &["dangling", "name", "label", "driver"])?;
    for (k, v) in filters.each() {
        if k == "dangling" && dangling(v).is_none() {
            bail!("--filter {k}={v}: want true or false");
        }
    }
    let mut list = ctx.engine()?.volumes()?;
    list.retain(|v| filters.keep(|k, value| passes(v, k, value)));
    if a.quiet {
        for v in &list {
            println!("{}", v.volume.name);
        }
        return Ok(());
    }
    let items: Vec<Value> = list.iter().map(item).collect();
    format::print(a.format.as_deref(), &items, &COLUMNS)
}

fn dangling(v: &str) -> Option<bool> {
    match v {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

fn passes(v: &VolumeInfo, key: &str, value: &str) -> bool {
    match key {
        "dangling" => dangling(value) == Some(v.containers.is_empty()),
        "name" => v.volume.name.contains(value),
        "label" => label_matches(&v.volume.spec.labels, value),
        "driver" => v.volume.driver == value,
        _ => false,
    }
}

/// A volume as docker's `volume ls` templates see it: every field a string.
fn item(v: &VolumeInfo) -> Value {
    let labels: Vec<String> = v
        .volume
        .spec
        .labels
        .iter()
        .map(|(k, val)| format!("{k}={val}"))
        .collect();
    json!({
        "Name": v.volume.name,
        "Driver": v.volume.driver,
        "Scope": "local",
        "Mountpoint": v.mountpoint.display().to_string(),
        "Labels": labels.join(","),
        "Links": v.containers.len().to_string(),
    })
}
