//! `berth stats [-a] [--no-stream] [--format F] [CONTAINER...]`: live use of CPU, memory,
//! network, block IO and tasks, one screen refreshed in place on a terminal, as docker's.

use berth_engine::stats::{Reading, Sample};
use serde_json::json;
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::time::Duration;

use super::{binary_size, human_size};
use crate::context::Context;
use crate::format::{self, Columns};

/// Show containers' use of CPU, memory, network, block IO and tasks.
#[derive(clap::Args)]
pub struct Args {
    /// Every container, not only running ones.
    #[arg(short, long)]
    all: bool,
    /// One sample and exit (CPU % over the container's life so far).
    #[arg(long)]
    no_stream: bool,
    /// Do not cut ids short.
    #[arg(long)]
    no_trunc: bool,
    /// `table`, `table TEMPLATE`, `json` or a Go template (docker's fields: .ID .Container
    /// .Name .CPUPerc .MemUsage .MemPerc .NetIO .BlockIO .PIDs).
    #[arg(long)]
    format: Option<String>,
    /// Containers (names or ids); default: all running ones.
    containers: Vec<String>,
}

const COLUMNS: Columns = Columns {
    default: "{{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}",
    headers: &[
        ("ID", "CONTAINER ID"),
        ("Container", "CONTAINER"),
        ("Name", "NAME"),
        ("CPUPerc", "CPU %"),
        ("MemUsage", "MEM USAGE / LIMIT"),
        ("MemPerc", "MEM %"),
        ("NetIO", "NET I/O"),
        ("BlockIO", "BLOCK I/O"),
        ("PIDs", "PIDS"),
    ],
};

/// How often a stream refreshes.
const INTERVAL: Duration = Duration::from_secs(1);

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    let engine = ctx.engine()?;
    let mut previous: HashMap<String, Sample> = HashMap::new();
    let clear = !a.no_stream && std::io::stdout().is_terminal();
    loop {
        let mut rows = Vec::new();
        for reading in engine.stats(&a.containers, a.all)? {
            match reading {
                Reading::Sample(s) => {
                    rows.push(row(&s, previous.get(&s.id), a.no_trunc));
                    previous.insert(s.id.clone(), s);
                }
                Reading::Idle { id, name } => rows.push(idle_row(&id, &name, a.no_trunc)),
            }
        }
        let text = format::render(a.format.as_deref(), &rows, &COLUMNS)?;
        let mut out = std::io::stdout().lock();
        if clear {
            write!(out, "\x1b[2J\x1b[H")?;
        }
        write!(out, "{text}")?;
        out.flush()?;
        if a.no_stream {
            return Ok(());
        }
        std::thread::sleep(INTERVAL);
    }
}

/// A container's row: CPU % since `before` (or since it started), and its counters.
fn row(s: &Sample, before: Option<&Sample>, no_trunc: bool) -> serde_json::Value {
    let (cpu_then, since) = match (before, s.started) {
        (Some(b), _) => (b.cpu_ns, Some(b.at)),
        (None, started) => (0, started),
    };
    let wall_ns = since.map_or(0, |t| (s.at.unix_nanos() - t.unix_nanos()).max(0) as u64);
    let cpu = match wall_ns {
        0 => 0.0,
        w => s.cpu_ns.saturating_sub(cpu_then) as f64 * 100.0 / w as f64,
    };
    let mem = match s.memory_limit {
        0 => 0.0,
        l => s.memory as f64 * 100.0 / l as f64,
    };
    json!({
        "ID": if no_trunc { &s.id[..] } else { &s.id[..12] },
        "Container": s.name,
        "Name": s.name,
        "CPUPerc": format!("{cpu:.2}%"),
        "MemUsage": format!("{} / {}", binary_size(s.memory), binary_size(s.memory_limit)),
        "MemPerc": format!("{mem:.2}%"),
        "NetIO": format!("{} / {}", human_size(s.net_rx), human_size(s.net_tx)),
        "BlockIO": format!("{} / {}", human_size(s.block_read), human_size(s.block_write)),
        "PIDs": s.pids.to_string(),
    })
}

/// The row of a container that does not run: nothing used.
fn idle_row(id: &str, name: &str, no_trunc: bool) -> serde_json::Value {
    let short = if no_trunc {
        id
    } else {
        &id[..id.len().min(12)]
    };
    json!({
        "ID": short, "Container": name, "Name": name, "CPUPerc": "0.00%", "MemUsage": "0B / 0B",
        "MemPerc": "0.00%", "NetIO": "0B / 0B", "BlockIO": "0B / 0B", "PIDs": "0",
    })
}
