//! docker's management command groups (`berth container ls`, `berth image rm`, ...): aliases
//! of the top-level verbs, here in the command line only; each verb has one implementation.

use super::{
    attach, build, commit, cp, create, diff, exec, export, history, images, import, inspect, kill,
    load, logs, pause, port, ps, pull, push, rename, restart, rm, rmi, run, save, start, stats,
    stop, system, tag, top, update, wait, Command,
};

/// `berth container VERB`.
#[derive(clap::Subcommand)]
#[command(defer = true)]
pub enum Container {
    Run(run::Args),
    Create(create::Args),
    Start(start::Args),
    #[command(visible_aliases = ["ps", "list"])]
    Ls(ps::Args),
    Logs(logs::Args),
    Export(export::Args),
    Cp(cp::Args),
    Diff(diff::Args),
    Commit(commit::Args),
    Stop(stop::Args),
    Kill(kill::Args),
    #[command(visible_alias = "remove")]
    Rm(rm::Args),
    Exec(exec::Args),
    Wait(wait::Args),
    Top(top::Args),
    Inspect(inspect::Args),
    /// Freeze every process of containers.
    Pause(pause::Args),
    /// Thaw every process of containers.
    Unpause(pause::Args),
    Restart(restart::Args),
    Rename(rename::Args),
    Update(update::Args),
    Prune(system::ContainerPruneArgs),
    Stats(stats::Args),
    Attach(attach::Args),
    Port(port::Args),
}

/// `berth image VERB`.
#[derive(clap::Subcommand)]
#[command(defer = true)]
pub enum Image {
    // Boxed: far larger than the other verbs' arguments.
    Build(Box<build::Args>),
    Pull(pull::Args),
    Push(push::Args),
    #[command(visible_alias = "list")]
    Ls(images::Args),
    #[command(visible_alias = "remove")]
    Rm(rmi::Args),
    Tag(tag::Args),
    History(history::Args),
    Save(save::Args),
    Load(load::Args),
    Import(import::Args),
    Inspect(inspect::Args),
    Prune(system::ImagePruneArgs),
}

impl From<Container> for Command {
    fn from(c: Container) -> Command {
        match c {
            Container::Run(a) => Command::Run(a),
            Container::Create(a) => Command::Create(a),
            Container::Start(a) => Command::Start(a),
            Container::Ls(a) => Command::Ps(a),
            Container::Logs(a) => Command::Logs(a),
            Container::Export(a) => Command::Export(a),
            Container::Cp(a) => Command::Cp(a),
            Container::Diff(a) => Command::Diff(a),
            Container::Commit(a) => Command::Commit(a),
            Container::Stop(a) => Command::Stop(a),
            Container::Kill(a) => Command::Kill(a),
            Container::Rm(a) => Command::Rm(a),
            Container::Exec(a) => Command::Exec(a),
            Container::Wait(a) => Command::Wait(a),
            Container::Top(a) => Command::Top(a),
            Container::Inspect(a) => Command::Inspect(a.only(inspect::Kind::Container)),
            Container::Prune(a) => Command::ContainerPrune(a),
            Container::Stats(a) => Command::Stats(a),
            Container::Pause(a) => Command::Pause(a),
            Container::Unpause(a) => Command::Unpause(a),
            Container::Restart(a) => Command::Restart(a),
            Container::Rename(a) => Command::Rename(a),
            Container::Update(a) => Command::Update(a),
            Container::Attach(a) => Command::Attach(a),
            Container::Port(a) => Command::Port(a),
        }
    }
}

impl From<Image> for Command {
    fn from(c: Image) -> Command {
        match c {
            Image::Build(a) => Command::Build(*a),
            Image::Pull(a) => Command::Pull(a),
            Image::Push(a) => Command::Push(a),
            Image::Ls(a) => Command::Images(a),
            Image::Rm(a) => Command::Rmi(a),
            Image::Tag(a) => Command::Tag(a),
            Image::History(a) => Command::History(a),
            Image::Save(a) => Command::Save(a),
            Image::Load(a) => Command::Load(a),
            Image::Import(a) => Command::Import(a),
            Image::Inspect(a) => Command::Inspect(a.only(inspect::Kind::Image)),
            Image::Prune(a) => Command::ImagePrune(a),
        }
    }
}
