//! `berth save [-o FILE] [--format docker-archive|oci-archive] IMAGE...`

use std::io::{BufWriter, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{bail, Context as _};
use berth_image::archive::{self, Format};

use crate::context::Context;

/// Write images to a docker-archive or oci-archive tarball.
#[derive(clap::Args)]
pub struct Args {
    /// Images (names or IDs).
    #[arg(required = true)]
    images: Vec<String>,
    /// Write to FILE instead of standard output.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// docker-archive or oci-archive.
    #[arg(long, default_value = "docker-archive")]
    format: Format,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let mut images = Vec::new();
    for name in &a.images {
        let img = store.image(name)?;
        ctx.image_event("save", &img.id.to_string(), name);
        let names = archive::names_to_save(&img, name);
        images.push((img, names));
    }
    match &a.output {
        Some(path) => {
            let tmp = path.with_extension("berth-partial");
            let res = (|| -> anyhow::Result<()> {
                let mut f = BufWriter::new(
                    std::fs::File::create(&tmp)
                        .with_context(|| format!("creating {}", tmp.display()))?,
                );
                archive::save(
                    &store,
                    &images,
                    a.format,
                    &mut f,
                    &path.display().to_string(),
                )?;
                f.flush()?;
                f.into_inner().map_err(|e| e.into_error())?.sync_all()?;
                std::fs::rename(&tmp, path)
                    .with_context(|| format!("renaming to {}", path.display()))?;
                Ok(())
            })();
            if res.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            res
        }
        None => {
            if std::io::stdout().is_terminal() {
                bail!("refusing to write an archive to a terminal; use -o FILE or redirect stdout");
            }
            let mut out = BufWriter::new(std::io::stdout().lock());
            archive::save(&store, &images, a.format, &mut out, "stdout")?;
            out.flush()?;
            Ok(())
        }
    }
}
