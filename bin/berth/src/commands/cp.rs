//! `berth cp [-a] [-L] CONTAINER:SRC DEST|-` and `berth cp [-a] [-L] SRC|- CONTAINER:DEST`.

use crate::context::Context;
use berth_engine::cp::path::{Arg, PathError};
use berth_engine::cp::{CopyOptions, Destination, Source};

/// Copy files and directories between a container and the host ('-' is a tar stream).
#[derive(clap::Args)]
pub struct Args {
    /// Files copied into the container get its user and group (docker's -a).
    #[arg(short, long)]
    archive: bool,
    /// Follow a symlink SRC.
    #[arg(short = 'L', long)]
    follow_link: bool,
    /// Accepted for docker's command line; berth prints no progress.
    #[arg(short, long)]
    quiet: bool,
    /// CONTAINER:SRC, a host path, or '-'.
    src: String,
    /// CONTAINER:DEST, a host path, or '-'.
    dest: String,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    let o = CopyOptions {
        archive: a.archive,
        follow_link: a.follow_link,
    };
    let engine = ctx.engine()?;
    match (Arg::parse(&a.src), Arg::parse(&a.dest)) {
        (Arg::Container { .. }, Arg::Container { .. }) => Err(PathError::BetweenContainers.into()),
        (Arg::Container { container, path }, dest) => {
            let mut out = std::io::stdout().lock();
            let dest = match dest {
                Arg::Local(p) => Destination::Path(p),
                _ => Destination::Tar(&mut out),
            };
            Ok(engine.copy_out(&container, &path, dest, &o)?)
        }
        (src, Arg::Container { container, path }) => {
            let mut input = std::io::stdin().lock();
            let src = match src {
                Arg::Local(p) => Source::Path(p),
                _ => Source::Tar(&mut input),
            };
            Ok(engine.copy_in(&container, &path, src, &o)?)
        }
        _ => Err(PathError::NoContainer.into()),
    }
}
