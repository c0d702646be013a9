//! `berth commit [-a AUTHOR] [-m MESSAGE] [-c INSTRUCTION]... [-p] CONTAINER [REPOSITORY[:TAG]]`

use crate::context::Context;
use berth_engine::commit::CommitOptions;

/// Create an image from a container's changes.
#[derive(clap::Args)]
pub struct Args {
    /// Author (e.g. "Jane <jane@example.com>").
    #[arg(short, long)]
    author: Option<String>,
    /// Dockerfile instruction to apply (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR).
    #[arg(short, long = "change")]
    changes: Vec<String>,
    /// Commit message (the history entry's comment).
    #[arg(short, long)]
    message: Option<String>,
    /// Freeze the container while its changes are read (--pause=false not to).
    #[arg(short, long, value_name = "BOOL", default_value_t = true, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    pause: bool,
    /// Container (name or id).
    container: String,
    /// Name of the new image (default registry: localhost/).
    reference: Option<String>,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    let o = CommitOptions {
        reference: a.reference,
        author: a.author,
        message: a.message,
        changes: a.changes,
        pause: a.pause,
    };
    let image = ctx.engine()?.commit(&a.container, &o)?;
    println!("{}", image.id);
    Ok(())
}
