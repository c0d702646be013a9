//! `berth ps [-a] [-q] [--format table|json]`: list containers.

use anyhow::bail;

use crate::context::Context;

/// List containers.
#[derive(clap::Args)]
pub struct Args {
    /// Show all containers (default: running ones).
    #[arg(short, long)]
    all: bool,
    /// Print ids only.
    #[arg(short, long)]
    quiet: bool,
    /// table or json.
    #[arg(long, default_value = "table")]
    format: String,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    let list = ctx.engine()?.list(a.all)?;
    match a.format.as_str() {
        "json" => println!("{}", serde_json::to_string_pretty(&list)?),
        "table" if a.quiet => list.iter().for_each(|c| println!("{}", &c.id[..12])),
        "table" => {
            let rows: Vec<[String; 6]> = list
                .iter()
                .map(|c| {
                    [
                        c.id[..12].to_string(),
                        c.image.clone(),
                        shorten(&c.command.join(" "), 20),
                        format!(
                            "{} ago",
                            berth_engine::time::human(
                                c.created
                                    .seconds_until(berth_engine::time::Timestamp::now())
                            )
                        ),
                        status(c),
                        c.names.join(","),
                    ]
                })
                .collect();
            let header = [
                "CONTAINER ID",
                "IMAGE",
                "COMMAND",
                "CREATED",
                "STATUS",
                "NAMES",
            ]
            .map(String::from);
            let mut widths = header.clone().map(|h| h.len());
            for r in &rows {
                for (w, c) in widths.iter_mut().zip(r) {
                    *w = (*w).max(c.chars().count());
                }
            }
            for r in std::iter::once(&header).chain(&rows) {
                let line: Vec<String> = r
                    .iter()
                    .zip(widths)
                    .map(|(c, w)| format!("{c:<w$}"))
                    .collect();
                println!("{}", line.join("   ").trim_end());
            }
        }
        f => bail!("--format {f:?}: want table or json"),
    }
    Ok(())
}

/// docker's status words, with the reason after a death by signal or the OOM killer.
fn status(c: &berth_engine::list::Summary) -> String {
    match &c.reason {
        Some(why) if c.exit_code.is_none_or(|code| code > 128) => format!("{}: {why}", c.status),
        _ => c.status.clone(),
    }
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
