//! `berth ps`: list containers, with docker's columns, filters and formats.

use anyhow::bail;
use berth_engine::list::Summary;
use berth_engine::time::{human, Timestamp};
use serde_json::{json, Value};

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
    let filters = Filters::parse(&a.filters)?;
    let engine = ctx.engine()?;
    let take = if a.latest { Some(1) } else { a.last };
    let mut list = engine.list(a.all || take.is_some())?;
    list.retain(|c| filters.keep(c, &|image| engine.image_id(image)));
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
        "Ports": "",
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

/// `--filter KEY=VALUE`s, grouped by key.
struct Filters(Vec<(String, Vec<String>)>);

impl Filters {
    fn parse(list: &[String]) -> anyhow::Result<Filters> {
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for f in list {
            let Some((k, v)) = f.split_once('=') else {
                bail!("--filter {f:?}: want KEY=VALUE");
            };
            if !["id", "name", "label", "status", "exited", "ancestor"].contains(&k) {
                bail!(
                    "--filter {f:?}: unknown filter {k:?} (id, name, label, status, exited, ancestor)"
                );
            }
            if k == "exited" && v.parse::<i32>().is_err() {
                bail!("--filter {f:?}: want an exit status");
            }
            if k == "status" && !["created", "running", "exited"].contains(&v) {
                bail!("--filter {f:?}: want created, running or exited");
            }
            match groups.iter_mut().find(|(key, _)| key == k) {
                Some((_, vs)) => vs.push(v.to_string()),
                None => groups.push((k.to_string(), vec![v.to_string()])),
            }
        }
        Ok(Filters(groups))
    }

    /// Whether `c` passes; `image_id` gives the ID an image reference names, if any.
    fn keep(&self, c: &Summary, image_id: &dyn Fn(&str) -> Option<String>) -> bool {
        self.0.iter().all(|(k, values)| {
            values.iter().any(|v| match k.as_str() {
                "id" => c.id.starts_with(v.as_str()),
                "name" => c.names.iter().any(|n| n.contains(v.as_str())),
                "label" => match v.split_once('=') {
                    Some((k, want)) => c.labels.get(k).is_some_and(|l| l == want),
                    None => c.labels.contains_key(v.as_str()),
                },
                "status" => c.state.to_string() == *v,
                "exited" => {
                    c.state.to_string() == "exited"
                        && c.exit_code.map(|e| e.to_string()) == Some(v.clone())
                }
                "ancestor" => c.image == *v || image_id(v).is_some_and(|id| id == c.image_id),
                _ => false,
            })
        })
    }
}
