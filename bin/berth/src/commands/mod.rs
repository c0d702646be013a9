//! One module per command: each parses its arguments and calls berth-image or berth-engine.

mod create;
mod exec;
mod export;
mod history;
mod images;
mod import;
mod inspect;
mod kill;
mod load;
mod login;
mod logout;
mod logs;
mod monitor;
mod ps;
mod pull;
mod push;
mod rm;
mod rmi;
mod run;
mod save;
mod start;
mod stop;
mod tag;
mod top;
mod wait;

use crate::context::Context;

/// berth's commands.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Create a container from an image and run it.
    Run(run::Args),
    /// Create a container without starting it.
    Create(create::Args),
    /// Start created or exited containers in the background.
    Start(start::Args),
    /// List containers.
    Ps(ps::Args),
    /// Show a detached container's output.
    Logs(logs::Args),
    /// Write a container's file system as a tar archive.
    Export(export::Args),
    /// Stop containers: their stop signal, then SIGKILL after a timeout.
    Stop(stop::Args),
    /// Send a signal to containers.
    Kill(kill::Args),
    /// Remove containers.
    Rm(rm::Args),
    /// Run a command in a running container.
    Exec(exec::Args),
    /// Wait for containers to stop; print their exit statuses.
    Wait(wait::Args),
    /// Show a container's processes.
    Top(top::Args),
    /// Show containers' or images' details as JSON.
    Inspect(inspect::Args),
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
    /// The monitor of a detached container (started by berth itself).
    #[command(hide = true)]
    Monitor(monitor::Args),
}

impl Command {
    /// The exit status for a failure of this command: 125 for `run` and `exec` (whose
    /// success status is the container's, as docker and podman do), else 1.
    pub fn failure_status(&self) -> i32 {
        match self {
            Command::Run(_) | Command::Exec(_) => 125,
            _ => 1,
        }
    }

    /// Whether this command adds content to the image store (through a staging area).
    pub fn adds_images(&self) -> bool {
        matches!(
            self,
            Command::Pull(_) | Command::Load(_) | Command::Import(_)
        )
    }
}

/// Runs a command; returns the exit status.
pub fn run(cmd: Command, ctx: &Context) -> anyhow::Result<i32> {
    let done = |r: anyhow::Result<()>| r.map(|()| 0);
    match cmd {
        Command::Run(a) => run::run(a, ctx),
        Command::Exec(a) => exec::run(a, ctx),
        Command::Monitor(a) => monitor::run(a, ctx),
        Command::Create(a) => done(create::run(a, ctx)),
        Command::Start(a) => done(start::run(a, ctx)),
        Command::Ps(a) => done(ps::run(a, ctx)),
        Command::Logs(a) => done(logs::run(a, ctx)),
        Command::Export(a) => done(export::run(a, ctx)),
        Command::Stop(a) => done(stop::run(a, ctx)),
        Command::Kill(a) => done(kill::run(a, ctx)),
        Command::Rm(a) => done(rm::run(a, ctx)),
        Command::Wait(a) => done(wait::run(a, ctx)),
        Command::Top(a) => done(top::run(a, ctx)),
        Command::Inspect(a) => done(inspect::run(a, ctx)),
        Command::Pull(a) => done(pull::run(a, ctx)),
        Command::Push(a) => done(push::run(a, ctx)),
        Command::Images(a) => done(images::run(a, ctx)),
        Command::Rmi(a) => done(rmi::run(a, ctx)),
        Command::Tag(a) => done(tag::run(a, ctx)),
        Command::History(a) => done(history::run(a, ctx)),
        Command::Login(a) => done(login::run(a, ctx)),
        Command::Logout(a) => done(logout::run(a, ctx)),
        Command::Save(a) => done(save::run(a, ctx)),
        Command::Load(a) => done(load::run(a, ctx)),
        Command::Import(a) => done(import::run(a, ctx)),
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
