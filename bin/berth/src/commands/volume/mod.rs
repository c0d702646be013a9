//! `berth volume VERB`: docker's volume commands (`create`, `ls`, `inspect`, `rm`, `prune`),
//! a group without top-level forms.

mod create;
mod inspect;
mod ls;
mod prune;
mod rm;

use crate::context::Context;

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
