//! `berth events [--since T] [--until T] [--filter K=V] [--format F]`: what happened to
//! containers and images, from the events journal; without `--until` it keeps printing new
//! events until interrupted, as docker's.

use anyhow::{anyhow, bail};
use berth_engine::filters::Filters;
use berth_engine::journal::{Event, Journal};
use berth_engine::time::Timestamp;
use std::time::Duration;

use crate::context::Context;
use crate::format::{self, Columns};

/// Show what happens to containers and images.
#[derive(clap::Args)]
pub struct Args {
    /// Events from this moment: RFC 3339, Unix seconds, or a duration ago (10m).
    #[arg(long)]
    since: Option<String>,
    /// Events before this moment; without it, follow new events. Without --since, only
    /// events from now on.
    #[arg(long)]
    until: Option<String>,
    /// KEY=VALUE: type, event (the action), container, image, name, label. Filters of one
    /// key match any value; different keys all.
    #[arg(short, long = "filter", value_name = "FILTER")]
    filters: Vec<String>,
    /// A Go template per event, or `json` (docker's fields: .Type .Action .Actor.ID
    /// .Actor.Attributes .time .timeNano).
    #[arg(long)]
    format: Option<String>,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    let now = Timestamp::now();
    let moment = |flag: &str, v: &Option<String>| {
        v.as_deref()
            .map(|s| {
                Timestamp::from_user(s, now).ok_or_else(|| {
                    anyhow!("{flag} {s:?}: want RFC 3339, Unix seconds or a duration")
                })
            })
            .transpose()
    };
    let (since, until) = (moment("--since", &a.since)?, moment("--until", &a.until)?);
    let mut filters: Vec<(String, String)> = Vec::new();
    for f in &a.filters {
        let Some((k, v)) = f.split_once('=') else {
            bail!("--filter {f:?}: want KEY=VALUE");
        };
        if !["type", "event", "container", "image", "name", "label"].contains(&k) {
            bail!(
                "--filter {f:?}: unknown filter {k:?} (type, event, container, image, name, label)"
            );
        }
        filters.push((k.to_string(), v.to_string()));
    }
    let filters = Filters::group(filters);
    let keep = |e: &Event| {
        let before = until.is_none_or(|u| e.time_nano < u.unix_nanos());
        before && filters.keep(|k, v| e.passes(k, v))
    };
    let journal = Journal::new(&ctx.root);
    // As docker's: the past only when asked for with --since.
    let (past, mut offset) = journal.read(since)?;
    if since.is_some() {
        let past: Vec<Event> = past.into_iter().filter(|e| keep(e)).collect();
        print(&past, a.format.as_deref())?;
    }
    if until.is_some_and(|u| u <= now) {
        return Ok(());
    }
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let (new, end) = journal.follow(offset)?;
        offset = end;
        print(
            &new.into_iter().filter(|e| keep(e)).collect::<Vec<_>>(),
            a.format.as_deref(),
        )?;
        if until.is_some_and(|u| Timestamp::now() >= u) {
            return Ok(());
        }
    }
}

fn print(events: &[Event], fmt: Option<&str>) -> anyhow::Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    match fmt {
        None => {
            for e in events {
                let attrs: Vec<String> = e
                    .actor
                    .attributes
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                println!(
                    "{} {} {} {} ({})",
                    Timestamp::from_unix_nanos(e.time_nano),
                    e.kind,
                    e.action,
                    e.actor.id,
                    attrs.join(", ")
                );
            }
            Ok(())
        }
        Some(f) => {
            let items: Vec<serde_json::Value> = events
                .iter()
                .map(serde_json::to_value)
                .collect::<Result<_, _>>()?;
            format::print(Some(f), &items, &Columns::NONE)
        }
    }
}
