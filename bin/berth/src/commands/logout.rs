//! `berth logout REGISTRY`

use anyhow::bail;
use berth_image::registry::{login_file, save_credentials};

use crate::context::Context;

/// Log out of a registry.
#[derive(clap::Args)]
pub struct Args {
    /// Registry host[:port].
    registry: String,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    if !save_credentials(&ctx.config, &a.registry, None)? {
        bail!(
            "not logged in to {} (no entry in {})",
            a.registry,
            login_file(&ctx.config).display()
        );
    }
    println!("Removed login credentials for {}", a.registry);
    Ok(())
}
