//! `spec`.

use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct SpecArgs {
    /// Directory to write config.json into.
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
}

/// Writes the default config; `rootless` (the global `--rootless`, also accepted after `spec`)
/// makes it a config for running without privileges.
pub fn run(a: &SpecArgs, rootless: bool) -> Result<()> {
    let path = a.bundle.join("config.json");
    if path.exists() {
        bail!("spec: {} already exists; remove it first", path.display());
    }
    let spec = berth_container::spec::default_spec(
        rootless,
        berth_sys::ids::geteuid(),
        berth_sys::ids::getegid(),
    )
    .context("spec: default seccomp profile")?;
    std::fs::write(&path, serde_json::to_string_pretty(&spec)? + "\n")
        .with_context(|| format!("spec: write {}", path.display()))
}
