//! `berth load [-i FILE]`: docker-archive or oci-archive, from a file or standard input.

use std::io::BufReader;
use std::path::PathBuf;

use anyhow::Context as _;
use berth_image::archive;

use crate::context::Context;

/// Load images from a docker-archive or oci-archive tarball.
#[derive(clap::Args)]
pub struct Args {
    /// Read from FILE instead of standard input.
    #[arg(short, long)]
    input: Option<PathBuf>,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let names = match &a.input {
        Some(p) => {
            let f = std::fs::File::open(p).with_context(|| format!("opening {}", p.display()))?;
            archive::load(
                &store,
                &mut BufReader::with_capacity(1 << 20, f),
                &p.display().to_string(),
            )?
        }
        None => archive::load(&store, &mut std::io::stdin().lock(), "stdin")?,
    };
    for n in names {
        ctx.image_event("load", &n.to_string(), &n.to_string());
        println!("Loaded image: {n}");
    }
    Ok(())
}
