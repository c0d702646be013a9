//! One module per command: each parses its arguments and calls berth-image or berth-engine.

mod attach;
mod build;
mod cdi;
mod commit;
mod cp;
mod create;
mod diff;
mod dns_server;
mod events;
mod exec;
mod export;
mod filters;
mod generate;
mod groups;
mod healthcheck;
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
mod network;
mod pause;
mod port;
mod port_forward;
mod ps;
mod pull;
mod push;
mod rename;
mod restart;
mod rm;
mod rmi;
mod run;
mod save;
mod service;
mod start;
mod stats;
mod stop;
mod system;
mod tag;
mod top;
mod unshare;
mod update;
mod volume;
mod wait;

use crate::context::Context;
use berth_engine::time::{human, Timestamp};

/// berth's commands.
#[derive(clap::Subcommand)]
#[command(defer = true)]
pub enum Command {
    Run(run::Args),
    Create(create::Args),
    Start(start::Args),
    Ps(ps::Args),
    Logs(logs::Args),
    Export(export::Args),
    Cp(cp::Args),
    Diff(diff::Args),
    Commit(commit::Args),
    Build(build::Args),
    /// Manage the build cache.
    #[command(subcommand)]
    Builder(build::Builder),
    Stop(stop::Args),
    Kill(kill::Args),
    Rm(rm::Args),
    Exec(exec::Args),
    Wait(wait::Args),
    Top(top::Args),
    Inspect(inspect::Args),
    Pull(pull::Args),
    Push(push::Args),
    Images(images::Args),
    Rmi(rmi::Args),
    Tag(tag::Args),
    History(history::Args),
    Login(login::Args),
    Logout(logout::Args),
    Save(save::Args),
    Load(load::Args),
    Import(import::Args),
    Generate(generate::Args),
    Events(events::Args),
    /// Freeze every process of containers.
    Pause(pause::Args),
    /// Thaw every process of containers.
    Unpause(pause::Args),
    Restart(restart::Args),
    Rename(rename::Args),
    Update(update::Args),
    /// Manage containers (the same verbs as above).
    #[command(subcommand)]
    Container(groups::Container),
    /// Manage images (the same verbs as above).
    #[command(subcommand)]
    Image(groups::Image),
    /// Show a container's published ports.
    Port(port::Args),
    /// Manage networks.
    #[command(subcommand)]
    Network(network::Network),
    Stats(stats::Args),
    Attach(attach::Args),
    Info(system::InfoArgs),
    Version(system::VersionArgs),
    /// The engine as a whole: info, df, prune, events.
    #[command(subcommand)]
    System(system::System),
    /// Manage volumes.
    #[command(subcommand)]
    Volume(volume::Volume),
    /// CDI device specs: generate this host's NVIDIA spec, list the devices.
    #[command(subcommand)]
    Cdi(cdi::Cdi),
    Unshare(unshare::Args),
    #[command(hide = true)]
    Healthcheck(healthcheck::Args),
    #[command(hide = true)]
    ContainerPrune(system::ContainerPruneArgs),
    #[command(hide = true)]
    ImagePrune(system::ImagePruneArgs),
    /// The monitor of a detached container (started by berth itself).
    #[command(hide = true)]
    Monitor(monitor::Args),
    /// The DNS server of a network (started by berth itself).
    #[command(hide = true)]
    DnsServer(dns_server::Args),
    /// A rootless container's published ports on a bridge network (started by berth itself).
    #[command(hide = true)]
    PortForward(port_forward::Args),
}

impl Command {
    /// The exit status for a failure of this command: 125 for `run`, `create` and `exec`
    /// (docker's and podman's), else 1.
    pub fn failure_status(&self) -> i32 {
        match self {
            Command::Run(_) | Command::Create(_) | Command::Exec(_) => 125,
            _ => 1,
        }
    }

    /// A management group's verb as the top-level command it aliases.
    pub fn ungrouped(self) -> Command {
        match self {
            Command::Container(c) => c.into(),
            Command::Image(c) => c.into(),
            other => other,
        }
    }

    /// Whether this command is a long-lived helper or service that writes to peers which
    /// may hang up (a container's monitor, a DNS server, a port forwarder, the API service):
    /// a closed pipe or socket must be an error to handle there, not a SIGPIPE that ends it.
    pub fn serves_peers(&self) -> bool {
        matches!(
            self,
            Command::Monitor(_)
                | Command::DnsServer(_)
                | Command::PortForward(_)
                | Command::System(system::System::Service(_))
        )
    }

    /// Whether an ordinary user's command runs in the user's berth namespace: all but
    /// those that touch no store or container.
    pub fn needs_namespace(&self) -> bool {
        !matches!(
            self,
            Command::Version(_) | Command::Login(_) | Command::Logout(_) | Command::Cdi(_)
        )
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
        Command::Container(c) => run(c.into(), ctx),
        Command::Image(c) => run(c.into(), ctx),
        Command::Volume(v) => done(volume::run(v, ctx)),
        Command::Cdi(c) => done(cdi::run(c, ctx)),
        Command::Stats(a) => done(stats::run(a, ctx)),
        Command::Attach(a) => attach::run(a, ctx),
        Command::Info(a) => done(system::info(a, ctx)),
        Command::Version(a) => done(system::version(a)),
        Command::System(s) => done(match s {
            system::System::Info(a) => system::info(a, ctx),
            system::System::Df(a) => system::df(a, ctx),
            system::System::Prune(a) => system::prune(a, ctx),
            system::System::Events(a) => events::run(a, ctx),
            system::System::Service(a) => service::run(a, ctx),
        }),
        Command::ContainerPrune(a) => done(system::container_prune(a, ctx)),
        Command::Healthcheck(a) => healthcheck::run(a, ctx),
        Command::ImagePrune(a) => done(system::image_prune(a, ctx)),
        Command::Run(a) => run::run(a, ctx),
        Command::Exec(a) => exec::run(a, ctx),
        Command::Monitor(a) => monitor::run(a, ctx),
        Command::Create(a) => done(create::run(a, ctx)),
        Command::Start(a) => start::run(a, ctx),
        Command::Ps(a) => done(ps::run(a, ctx)),
        Command::Logs(a) => done(logs::run(a, ctx)),
        Command::Export(a) => done(export::run(a, ctx)),
        Command::Cp(a) => done(cp::run(a, ctx)),
        Command::Diff(a) => done(diff::run(a, ctx)),
        Command::Commit(a) => done(commit::run(a, ctx)),
        Command::Build(a) => done(build::run(a, ctx)),
        Command::Builder(build::Builder::Prune(a)) => done(build::prune(a, ctx)),
        Command::Generate(a) => done(generate::run(a, ctx)),
        Command::Events(a) => done(events::run(a, ctx)),
        Command::Pause(a) => done(pause::run(a, ctx, true)),
        Command::Unpause(a) => done(pause::run(a, ctx, false)),
        Command::Restart(a) => done(restart::run(a, ctx)),
        Command::Rename(a) => done(rename::run(a, ctx)),
        Command::Update(a) => done(update::run(a, ctx)),
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
        Command::Port(a) => done(port::run(a, ctx)),
        Command::Network(n) => done(network::run(n, ctx)),
        Command::DnsServer(a) => done(dns_server::run(a, ctx)),
        Command::PortForward(a) => done(port_forward::run(a)),
        Command::Unshare(a) => unshare::run(a),
    }
}
/// `--tls-verify`, shared by commands that talk to registries.
#[derive(clap::Args)]
pub struct TlsArgs {
    /// Require HTTPS with a verified certificate (false also allows plain HTTP).
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    pub tls_verify: bool,
}

/// docker's question before a prune: `WARNING! what`; only "y" or "yes" goes on (an
/// empty stdin is a no).
pub fn confirm(what: &str) -> anyhow::Result<bool> {
    use std::io::Write;
    print!("WARNING! {what}\nAre you sure you want to continue? [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes"))
}

/// Sizes as docker prints them: decimal units, three significant digits (`4.26MB`).
pub fn human_size(n: u64) -> String {
    scaled(n, 1000.0, &["B", "kB", "MB", "GB", "TB", "PB"], 3)
}

/// Memory as docker's `stats` prints it: binary units, four significant digits (`1.953MiB`).
pub fn binary_size(n: u64) -> String {
    scaled(n, 1024.0, &["B", "KiB", "MiB", "GiB", "TiB", "PiB"], 4)
}

/// `n` in the largest unit (each `base` times the last) that keeps it below `base`, with
/// `digits` significant digits and no trailing zeros, as Go's `%.Ng` prints it.
fn scaled(n: u64, base: f64, units: &[&str], digits: i32) -> String {
    let mut v = n as f64;
    let mut u = 0;
    let top = base - 0.5 * 10f64.powi(3 - digits);
    while v >= top && u < units.len() - 1 {
        v /= base;
        u += 1;
    }
    let whole = if v >= 1.0 {
        v.log10().floor() as i32 + 1
    } else {
        1
    };
    let decimals = (digits - whole).max(0) as usize;
    let text = format!("{v:.decimals$}");
    let text = match text.contains('.') {
        true => text.trim_end_matches('0').trim_end_matches('.'),
        false => &text,
    };
    format!("{text}{}", units[u])
}

/// The time since an image-config moment (RFC 3339), as docker words it: `2 weeks ago`.
pub fn since(created: Option<&str>) -> String {
    created
        .map(|c| c.replace("+00:00", "Z"))
        .and_then(|c| Timestamp::parse(&c))
        .map_or("N/A".into(), |t| {
            format!("{} ago", human(t.seconds_until(Timestamp::now())))
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_as_docker_prints_them() {
        let cases = [
            (0, "0B"),
            (999, "999B"),
            (1000, "1kB"),
            (4_264_000, "4.26MB"),
            (42_000_000, "42MB"),
            (123_456_789, "123MB"),
            (1_500_000_000, "1.5GB"),
        ];
        for (n, text) in cases {
            assert_eq!(super::human_size(n), text);
        }
        assert_eq!(super::binary_size(2_048_000), "1.953MiB");
        assert_eq!(super::binary_size(512), "512B");
        assert_eq!(super::binary_size(16 << 30), "16GiB");
    }
}
