//! `berth logs [-f] [-t] [-n N] [--since T] [--until T] [--details] CONTAINER`: what a
//! container wrote, stdout to stdout and stderr to stderr.

use anyhow::anyhow;
use berth_engine::logging::Stream;
use berth_engine::logs::LogsOptions;
use berth_engine::time::Timestamp;
use std::io::Write;

use crate::context::Context;

/// Show a container's output.
#[derive(clap::Args)]
pub struct Args {
    /// Keep printing until the container stops.
    #[arg(short, long)]
    follow: bool,
    /// Only the last N lines ("all" for everything).
    #[arg(short = 'n', long, default_value = "all")]
    tail: String,
    /// Each line's time first (RFC 3339, nanoseconds).
    #[arg(short, long)]
    timestamps: bool,
    /// Only lines from this moment: RFC 3339, Unix seconds, or a duration ago (10m, 1h30m).
    #[arg(long)]
    since: Option<String>,
    /// Only lines before this moment (as --since).
    #[arg(long)]
    until: Option<String>,
    /// The attributes a line carries (--log-opt env=) before it.
    #[arg(long)]
    details: bool,
    /// Container (name or id).
    container: String,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    let tail = match a.tail.as_str() {
        "all" | "-1" => None,
        n => Some(
            n.parse()
                .map_err(|_| anyhow!("--tail {n:?}: want a number or all"))?,
        ),
    };
    let now = Timestamp::now();
    let moment = |flag: &str, v: &Option<String>| {
        v.as_deref()
            .map(|s| {
                Timestamp::from_user(s, now).ok_or_else(|| {
                    anyhow!("{flag} {s:?}: want RFC 3339, Unix seconds or a duration such as 10m")
                })
            })
            .transpose()
    };
    let o = LogsOptions {
        follow: a.follow,
        tail,
        since: moment("--since", &a.since)?,
        until: moment("--until", &a.until)?,
    };
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    ctx.engine()?.logs(&a.container, &o, &mut |e| {
        let w: &mut dyn Write = match e.stream {
            Stream::Stdout => &mut out,
            Stream::Stderr => &mut err,
        };
        if a.timestamps {
            match e.time {
                Some(t) => write!(w, "{t} ")?,
                None => write!(w, "- ")?,
            }
        }
        if a.details {
            let attrs: Vec<String> = e.attrs.iter().map(|(k, v)| format!("{k}={v}")).collect();
            write!(w, "{} ", attrs.join(","))?;
        }
        w.write_all(&e.text)?;
        w.flush()
    })?;
    Ok(())
}
