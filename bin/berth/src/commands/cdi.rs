//! `berth cdi generate` (the CDI spec of this host's NVIDIA GPUs, for podman, containerd or
//! CRI-O, as `nvidia-ctk cdi generate` writes it) and `berth cdi list` (the CDI devices of
//! the spec directories).

use anyhow::Context as _;
use berth_cdi::nvidia::{driver_root, Driver};
use std::path::PathBuf;

use crate::context::Context;

/// Container Device Interface specs.
#[derive(clap::Subcommand)]
pub enum Cdi {
    Generate(GenerateArgs),
    List,
}

/// Write the CDI spec of this host's NVIDIA GPUs (kind nvidia.com/gpu).
#[derive(clap::Args)]
pub struct GenerateArgs {
    /// Write it to this file (.json or .yaml; made atomically) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// yaml or json (default: the output file's extension, else yaml).
    #[arg(long, value_parser = ["yaml", "json"])]
    format: Option<String>,
}

pub fn run(c: Cdi, ctx: &Context) -> anyhow::Result<()> {
    match c {
        Cdi::Generate(a) => generate(a),
        Cdi::List => {
            let dirs = match ctx.cdi_spec_dirs.is_empty() {
                true => berth_cdi::DEFAULT_DIRS.iter().map(PathBuf::from).collect(),
                false => ctx.cdi_spec_dirs.clone(),
            };
            let registry = berth_cdi::Registry::load(&dirs);
            for name in registry.names() {
                println!("{name}");
            }
            for broken in registry.broken() {
                tracing::warn!("{broken}");
            }
            Ok(())
        }
    }
}

fn generate(a: GenerateArgs) -> anyhow::Result<()> {
    let spec = Driver::discover(&driver_root())?.spec()?;
    let json = match a.format.as_deref() {
        Some(f) => f == "json",
        None => a
            .output
            .as_ref()
            .is_some_and(|o| o.extension().is_some_and(|e| e == "json")),
    };
    let text = match json {
        true => serde_json::to_string_pretty(&spec)? + "\n",
        false => serde_norway::to_string(&spec)?,
    };
    match a.output {
        None => print!("{text}"),
        Some(path) => {
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, text).with_context(|| format!("{}", tmp.display()))?;
            std::fs::rename(&tmp, &path).with_context(|| format!("{}", path.display()))?;
        }
    }
    Ok(())
}
