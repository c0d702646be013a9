//! One module per command: each parses its arguments and calls berth-image.

mod history;
mod images;
mod import;
mod inspect;
mod load;
mod login;
mod logout;
mod pull;
mod push;
mod rmi;
mod save;
mod tag;

use crate::context::Context;

/// berth's commands.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Pull an image from a registry.
    Pull(pull::Args),
    /// Push an image to a registry.
    Push(push::Args),
    /// List images.
    Images(images::Args),
    /// Remove images (and the layers no other image uses).
    Rmi(rmi::Args),
    /// Give an image another name.
    Tag(tag::Args),
    /// Show images' details as JSON.
    Inspect(inspect::Args),
    /// Show how an image's layers were made.
    History(history::Args),
    /// Log in to a registry.
    Login(login::Args),
    /// Log out of a registry.
    Logout(logout::Args),
    /// Write images to a docker-archive or oci-archive tarball.
    Save(save::Args),
    /// Load images from a docker-archive or oci-archive tarball.
    Load(load::Args),
    /// Create a one-layer image from a root filesystem tarball.
    Import(import::Args),
}

/// Runs a command.
pub fn run(cmd: Command, ctx: &Context) -> anyhow::Result<()> {
    match cmd {
        Command::Pull(a) => pull::run(a, ctx),
        Command::Push(a) => push::run(a, ctx),
        Command::Images(a) => images::run(a, ctx),
        Command::Rmi(a) => rmi::run(a, ctx),
        Command::Tag(a) => tag::run(a, ctx),
        Command::Inspect(a) => inspect::run(a, ctx),
        Command::History(a) => history::run(a, ctx),
        Command::Login(a) => login::run(a, ctx),
        Command::Logout(a) => logout::run(a, ctx),
        Command::Save(a) => save::run(a, ctx),
        Command::Load(a) => load::run(a, ctx),
        Command::Import(a) => import::run(a, ctx),
    }
}

/// `--tls-verify`, shared by commands that talk to registries.
#[derive(clap::Args)]
pub struct TlsArgs {
    /// Require HTTPS with a verified certificate (false also allows plain HTTP).
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    pub tls_verify: bool,
}

/// Sizes as people read them (decimal units, as docker prints).
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.3} {}", UNITS[u]).replacen(".000", "", 1)
    }
}
