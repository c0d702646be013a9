//! `berth ps`: list containers, with docker's columns, filters and formats.

use anyhow::bail;
use berth_engine::list::Summary;
use berth_engine::time::{human, Timestamp};
use serde_json::{json, Value};

use super::filters;
use crate::context::Context;
use crate::format::{self, Columns};

/// List containers.
#[derive(clap::Args)]
pub struct Args {
    /// Show all containers (default: running ones).
    #[arg(short, long)]
    all: bool,
    /// Print ids only.
    #[arg(short, long)]
    quiet: bool,
    /// `table`, `table TEMPLATE`, `json` or a Go template (docker's fields: .ID .Image
    /// .Command .CreatedAt .RunningFor .Ports .State .Status .Names .Labels .Mounts .Networks, and
    /// berth's .Reason).
    #[arg(long)]
    format: Option<String>,
    /// Do not cut ids and commands short.
    #[arg(long)]
    no_trunc: bool,
    /// The N newest containers, whatever their state.
    #[arg(short = 'n', long = "last", value_name = "N")]
    last: Option<usize>,
    /// The newest container, whatever its state.
    #[arg(short = 'l', long)]
    latest: bool,
    /// KEY=VALUE: id, name, label (KEY or KEY=VALUE), status (created, running, exited),
    /// exited (a status code), ancestor (an image). Filters of one key match any value; different keys all.
    #[arg(short, long = "filter", value_name = "FILTER")]
    filters: Vec<String>,
}

pub const COLUMNS: Columns = Columns {
    default:
        "{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}",
    headers: &[
        ("ID", "CONTAINER ID"),
        ("Image", "IMAGE"),
        ("Command", "COMMAND"),
        ("CreatedAt", "CREATED AT"),
        ("RunningFor", "CREATED"),
        ("Ports", "PORTS"),
        ("State", "STATE"),
        ("Status", "STATUS"),
        ("Names", "NAMES"),
        ("Mounts", "MOUNTS"),
        ("Networks", "NETWORKS"),
        ("Labels", "LABELS"),
        ("Reason", "REASON"),
    ],
};

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    let keys = ["id", "name", "label", "status", "exited", "ancestor"];
    let filters = filters::parse(&a.filters, &keys)?;
    for (k, v) in filters.each() {
        if k == "exited" && v.parse::<i32>().is_err() {
            bail!("--filter {k}={v}: want an exit status");
        }
        if k == "status" && !["created", "running", "exited"].contains(&v) {
            bail!("--filter {k}={v}: want created, running or exited");
        }
    }
    let engine = ctx.engine()?;
    let take = if a.latest { Some(1) } else { a.last };
    let mut list = engine.list(a.all || take.is_some())?;
    list.retain(|c| filters.keep(|k, v| c.passes(k, v, &|image| engine.image_id(image))));
    if let Some(n) = take {
        list.truncate(n);
    }
    if a.quiet {
        for c in &list {
            println!("{}", if a.no_trunc { &c.id } else { &c.id[..12] });
        }
        return Ok(());
    }
    // The default table tells why a container died; templates get docker's Status.
    let table = matches!(a.format.as_deref().map(str::trim), None | Some("table"));
    let items: Vec<Value> = list.iter().map(|c| item(c, a.no_trunc, table)).collect();
    format::print(a.format.as_deref(), &items, &COLUMNS)
}

/// A container as docker's `ps` templates see it: every field a string.
fn item(c: &Summary, no_trunc: bool, with_reason: bool) -> Value {
    let command = c.command.join(" ");
    let command = if no_trunc {
        format!("\"{command}\"")
    } else {
        shorten(&command, 20)
    };
    let reason = c
        .reason
        .as_ref()
        .filter(|_| c.exit_code.is_none_or(|code| code > 128));
    let status = match (reason, c.paused) {
        (_, true) => format!("{} (Paused)", c.status),
        (Some(why), false) if with_reason => format!("{}: {why}", c.status),
        _ => c.status.clone(),
    };
    json!({
        "ID": if no_trunc { &c.id[..] } else { &c.id[..12] },
        "Image": c.image,
        "Command": command,
        "CreatedAt": c.created.docker(),
        "RunningFor": format!("{} ago", human(c.created.seconds_until(Timestamp::now()))),
        "Ports": c.ports.join(", "),
        "State": if c.paused { "paused".to_string() } else { c.state.to_string() },
        "Status": status,
        "Names": c.names.join(","),
        "Mounts": c.mounts.join(","),
        "Networks": c.networks.join(","),
        "Labels": c.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
        "Reason": c.reason.clone().unwrap_or_default(),
    })
}

/// `s` quoted, cut to `max` characters with "…".
fn shorten(s: &str, max: usize) -> String {
    let cut: String = s.chars().take(max).collect();
    if cut.len() < s.len() {
        format!("\"{cut}…\"")
    } else {
        format!("\"{s}\"")
    }
}
