//! `berth import [-c CHANGE]... [-m MSG] FILE|URL|- [NAME]`

use std::io::BufReader;
use std::path::PathBuf;

use anyhow::Context as _;
use berth_image::archive::{self, ImportOptions};
use berth_image::Reference;

use crate::context::Context;

/// Create a one-layer image from a root filesystem tarball.
#[derive(clap::Args)]
pub struct Args {
    /// Root filesystem tarball (plain, gzip or zstd): a file, an http(s) URL, or `-` for
    /// standard input.
    file: PathBuf,
    /// Name for the image (default registry: localhost/); default `localhost/imported:latest`.
    name: Option<String>,
    /// Dockerfile instruction to apply (CMD, ENTRYPOINT, ENV, WORKDIR, USER, EXPOSE, VOLUME, LABEL, STOPSIGNAL).
    #[arg(short, long = "change")]
    changes: Vec<String>,
    /// History comment.
    #[arg(short, long)]
    message: Option<String>,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    let reference = Reference::parse_local(a.name.as_deref().unwrap_or("imported"))?;
    let store = ctx.store()?;
    let opts = ImportOptions {
        changes: a.changes,
        message: a.message,
    };
    let label = a.file.display().to_string();
    let image = if archive::is_url(&label) {
        let mut body = BufReader::new(archive::fetch(&label)?);
        archive::import(&store, &mut body, &reference, &opts, &label)?
    } else if label == "-" {
        archive::import(
            &store,
            &mut std::io::stdin().lock(),
            &reference,
            &opts,
            "stdin",
        )?
    } else {
        let f = std::fs::File::open(&a.file).with_context(|| format!("opening {label}"))?;
        archive::import(&store, &mut BufReader::new(f), &reference, &opts, &label)?
    };
    ctx.image_event(
        "import",
        &image.id.to_string(),
        &image
            .names
            .first()
            .map(ToString::to_string)
            .unwrap_or_default(),
    );
    println!("{}", image.id);
    Ok(())
}
