//! `events`.

use anyhow::{bail, Context, Result};
use berth_container::events::{self, Event};
use berth_container::Runtime;
use clap::Args;
use std::io::Write;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Print the container's stats once and exit.
    #[arg(long)]
    pub stats: bool,
    /// How often to print stats while streaming (Go duration: 500ms, 5s, 1m30s).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub interval: Duration,
    /// The container id.
    pub id: String,
}

pub fn run(rt: &Runtime, a: &EventsArgs) -> Result<()> {
    let ctx = || format!("events {}", a.id);
    if a.stats {
        let e = events::stats(rt, &a.id).with_context(ctx)?;
        return print(&e).context("write to stdout");
    }
    events::watch(rt, &a.id, a.interval, |e| {
        print(e).map_err(|source| berth_container::Error::Io {
            what: "write an event to stdout".into(),
            source,
        })
    })
    .with_context(ctx)
}

/// One event, one line, flushed at once for whoever reads the stream.
fn print(e: &Event) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, e)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// A Go-style duration: one or more number+unit pairs (ns, us, µs, ms, s, m, h).
fn parse_duration(s: &str) -> Result<Duration> {
    let mut total = 0f64;
    let mut rest = s;
    if rest.is_empty() {
        bail!("empty duration");
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let value: f64 = rest[..num_len]
            .parse()
            .with_context(|| format!("invalid duration {s:?}"))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => bail!("invalid duration {s:?}: use a unit (ns, us, ms, s, m, h)"),
        };
        rest = &rest[unit_len..];
        total += value * scale;
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("100ms").unwrap(), Duration::from_millis(100));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        for bad in ["", "5", "s", "5x", "1..2s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
