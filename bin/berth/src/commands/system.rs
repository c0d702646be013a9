//! `berth info`, `version`, `system info|df|prune|events` (and `service`, in its own file), `container prune` and
//! `image prune`: the engine as a whole, as docker shows it.

use berth_engine::system::Usage;
use serde_json::json;

use super::filters::{self, label_matches};
use super::{confirm, events, human_size};
use crate::context::Context;
use crate::format::{self, Columns};

/// `berth system VERB`.
#[derive(clap::Subcommand)]
#[command(defer = true)]
pub enum System {
    Info(InfoArgs),
    Df(DfArgs),
    Prune(PruneArgs),
    Events(events::Args),
    Service(super::service::Args),
}

/// Show the engine, the host and what berth holds.
#[derive(clap::Args)]
pub struct InfoArgs {
    /// A Go template (docker's fields: .Containers .ContainersRunning .Images .Driver
    /// .KernelVersion .NCPU .MemTotal ...), or `json`.
    #[arg(short, long)]
    format: Option<String>,
}

pub fn info(a: InfoArgs, ctx: &Context) -> anyhow::Result<()> {
    let i = ctx.engine()?.info()?;
    if let Some(f) = &a.format {
        return format::print(Some(f), &[serde_json::to_value(&i)?], &Columns::NONE);
    }
    print!(
        "Containers: {}\n Running: {}\n Paused: {}\n Stopped: {}\nImages: {}\n\
         Server Version: {}\nStorage Driver: {}\nLogging Driver: {}\nCgroup Driver: {}\n\
         Cgroup Version: {}\nRuntimes: berth\nDefault Runtime: {}\nSecurity Options:\n {}\n\
         Kernel Version: {}\nOperating System: {}\nOSType: {}\nArchitecture: {}\nCPUs: {}\n\
         Total Memory: {}\nName: {}\nRoot Dir: {}\nRootless: {}\n",
        i.containers,
        i.containers_running,
        i.containers_paused,
        i.containers_stopped,
        i.images,
        i.server_version,
        i.driver,
        i.logging_driver,
        i.cgroup_driver,
        i.cgroup_version,
        i.default_runtime,
        i.security_options.join("\n "),
        i.kernel_version,
        i.operating_system,
        i.os_type,
        i.architecture,
        i.ncpu,
        human_size(i.mem_total),
        i.name,
        i.docker_root_dir,
        i.rootless,
    );
    if let Some(r) = &i.rootless_setup {
        print!(
            " UID Map: {}\n GID Map: {}\n Storage: {}\n Network: {}\n",
            r.uid_map, r.gid_map, r.storage, r.network
        );
    }
    Ok(())
}

/// Show berth's version.
#[derive(clap::Args)]
pub struct VersionArgs {
    /// A Go template (.Client.Version, .Server.Version, ...), or `json`.
    #[arg(short, long)]
    format: Option<String>,
}

pub fn version(a: VersionArgs) -> anyhow::Result<()> {
    let version = env!("CARGO_PKG_VERSION");
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    // No daemon: the engine is this same program.
    let v = json!({
        "Client": {"Version": version, "Os": "linux", "Arch": arch},
        "Server": {"Version": version, "Os": "linux", "Arch": arch,
                   "KernelVersion": kernel.trim(), "Components": [{"Name": "Engine", "Version": version},
                   {"Name": "berth runtime core", "Version": version}]},
    });
    if let Some(f) = &a.format {
        return format::print(Some(f), &[v], &Columns::NONE);
    }
    println!(
        "Client: berth\n Version:    {version}\n OS/Arch:    linux/{arch}\n\n\
         Engine: berth (daemonless: this same program)\n Version:    {version}\n \
         Kernel:     {}\n Runtime:    berth's own runtime core",
        kernel.trim()
    );
    Ok(())
}

/// Show the space images, containers and volumes take.
#[derive(clap::Args)]
pub struct DfArgs {
    /// `table`, `table TEMPLATE`, `json` or a Go template (docker's fields: .Type .TotalCount
    /// .Active .Size .Reclaimable).
    #[arg(long)]
    format: Option<String>,
}

const DF: Columns = Columns {
    default: "{{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
    headers: &[
        ("Type", "TYPE"),
        ("TotalCount", "TOTAL"),
        ("Active", "ACTIVE"),
        ("Size", "SIZE"),
        ("Reclaimable", "RECLAIMABLE"),
    ],
};

pub fn df(a: DfArgs, ctx: &Context) -> anyhow::Result<()> {
    let d = ctx.engine()?.disk_usage()?;
    let row = |kind: &str, u: &Usage| {
        let share = match u.size {
            0 => 0,
            n => u.reclaimable * 100 / n,
        };
        json!({
            "Type": kind,
            "TotalCount": u.total.to_string(),
            "Active": u.active.to_string(),
            "Size": human_size(u.size),
            "Reclaimable": format!("{} ({share}%)", human_size(u.reclaimable)),
        })
    };
    let rows = [
        row("Images", &d.images),
        row("Containers", &d.containers),
        row("Local Volumes", &d.local_volumes),
        row("Build Cache", &Usage::default()),
    ];
    format::print(a.format.as_deref(), &rows, &DF)
}

/// Remove stopped containers, unused images (with -a) and unused volumes (with --volumes).
#[derive(clap::Args)]
pub struct PruneArgs {
    /// Every image no container uses, not only dangling ones.
    #[arg(short, long)]
    all: bool,
    /// Unused anonymous volumes too.
    #[arg(long)]
    volumes: bool,
    /// Do not ask for confirmation.
    #[arg(short, long)]
    force: bool,
    /// label=KEY[=VALUE], until=MOMENT (containers).
    #[arg(long = "filter", value_name = "FILTER")]
    filters: Vec<String>,
}

pub fn prune(a: PruneArgs, ctx: &Context) -> anyhow::Result<()> {
    let mut what = vec!["all stopped containers"];
    if a.volumes {
        what.push("all anonymous volumes not used by at least one container");
    }
    what.push(if a.all {
        "all images without at least one container associated to them"
    } else {
        "all dangling images"
    });
    what.push("all build cache");
    let warning = format!("This will remove:\n  - {}", what.join("\n  - "));
    if !a.force && !confirm(&warning)? {
        return Ok(());
    }
    let engine = ctx.engine()?;
    let reclaimed = prune_containers(&engine, &a.filters)?;
    if a.volumes {
        let removed = engine.prune_volumes(false, &|_| true)?;
        if !removed.is_empty() {
            println!("Deleted Volumes:");
            removed.iter().for_each(|(n, _)| println!("{n}"));
            println!();
        }
    }
    let cache = berth_build::builder::prune(engine.store(), &ctx.root)?;
    prune_images(&engine, a.all)?;
    if cache > 0 {
        engine.store().gc()?;
        println!("Deleted build cache entries: {cache}\n");
    }
    println!("Total reclaimed space: {}", human_size(reclaimed));
    Ok(())
}

/// Remove stopped containers.
#[derive(clap::Args)]
pub struct ContainerPruneArgs {
    /// Do not ask for confirmation.
    #[arg(short, long)]
    force: bool,
    /// label=KEY[=VALUE], label!=KEY[=VALUE], until=MOMENT.
    #[arg(long = "filter", value_name = "FILTER")]
    filters: Vec<String>,
}

pub fn container_prune(a: ContainerPruneArgs, ctx: &Context) -> anyhow::Result<()> {
    if !a.force && !confirm("This will remove all stopped containers.")? {
        return Ok(());
    }
    let reclaimed = prune_containers(&ctx.engine()?, &a.filters)?;
    println!("Total reclaimed space: {}", human_size(reclaimed));
    Ok(())
}

/// Removes the stopped containers that pass `filters`; prints their ids; returns the bytes.
fn prune_containers(engine: &berth_engine::Engine, filters: &[String]) -> anyhow::Result<u64> {
    let f = filters::parse(filters, &["label", "label!", "until"])?;
    let now = berth_engine::time::Timestamp::now();
    let mut until = None;
    for (k, v) in f.each() {
        if k == "until" {
            until = Some(
                berth_engine::time::Timestamp::from_user(v, now).ok_or_else(|| {
                    anyhow::anyhow!(
                        "--filter until={v:?}: want RFC 3339, Unix seconds or a duration"
                    )
                })?,
            );
        }
    }
    let removed = engine.prune_containers(&|r| {
        f.keep(|k, v| match k {
            "label" => label_matches(&r.settings.labels, v),
            "label!" => !label_matches(&r.settings.labels, v),
            "until" => until.is_some_and(|u| r.created < u),
            _ => false,
        })
    })?;
    if !removed.is_empty() {
        println!("Deleted Containers:");
        removed.iter().for_each(|(id, _)| println!("{id}"));
        println!();
    }
    Ok(removed.iter().map(|(_, n)| n).sum())
}

/// Remove unused images.
#[derive(clap::Args)]
pub struct ImagePruneArgs {
    /// Every image no container uses, not only dangling ones.
    #[arg(short, long)]
    all: bool,
    /// Do not ask for confirmation.
    #[arg(short, long)]
    force: bool,
}

pub fn image_prune(a: ImagePruneArgs, ctx: &Context) -> anyhow::Result<()> {
    let what = match a.all {
        true => "This will remove all images without at least one container associated to them.",
        false => "This will remove all dangling images.",
    };
    if !a.force && !confirm(what)? {
        return Ok(());
    }
    prune_images(&ctx.engine()?, a.all)
}

fn prune_images(engine: &berth_engine::Engine, all: bool) -> anyhow::Result<()> {
    let removed = engine.prune_images(all)?;
    if !removed.is_empty() {
        println!("Deleted Images:");
        removed.iter().for_each(|n| println!("untagged: {n}"));
        println!();
    }
    Ok(())
}
