//! `berth volume VERB`: docker's volume commands (`create`, `ls`, `inspect`, `rm`, `prune`),
//! a group without top-level forms.

mod create;
mod inspect;
mod ls;
mod prune;
mod rm;

use crate::context::Context;
use berth_engine::volume::VolumeInfo;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// `berth volume VERB`.
#[derive(clap::Subcommand)]
#[command(defer = true)]
pub enum Volume {
    Create(create::Args),
    #[command(visible_alias = "list")]
    Ls(ls::Args),
    Inspect(inspect::Args),
    #[command(visible_alias = "remove")]
    Rm(rm::Args),
    Prune(prune::Args),
}

pub fn run(v: Volume, ctx: &Context) -> anyhow::Result<()> {
    match v {
        Volume::Create(a) => create::run(a, ctx),
        Volume::Ls(a) => ls::run(a, ctx),
        Volume::Inspect(a) => inspect::run(a, ctx),
        Volume::Rm(a) => rm::run(a, ctx),
        Volume::Prune(a) => prune::run(a, ctx),
    }
}

/// A volume as `volume inspect` prints it: docker's fields, `null` for no labels or options.
pub(crate) fn inspect_json(v: &VolumeInfo) -> Value {
    let map = |m: &BTreeMap<String, String>| match m.is_empty() {
        true => Value::Null,
        false => json!(m),
    };
    json!({
        "CreatedAt": v.volume.created.to_string(),
        "Driver": v.volume.driver,
        "Labels": map(&v.volume.spec.labels),
        "Mountpoint": v.mountpoint,
        "Name": v.volume.name,
        "Options": map(&v.volume.spec.options),
        "Scope": "local",
    })
}
