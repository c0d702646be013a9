//! `berth healthcheck CONTAINER` (hidden; `berth container healthcheck` is its public name in
//! podman too): runs a container's health check once and records the result; started by the
//! container's attendant every interval.

use crate::context::Context;

/// Run a container's health check once.
#[derive(clap::Args)]
pub struct Args {
    /// Container (name or id).
    container: String,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<i32> {
    match ctx.engine()?.health_check(&a.container)? {
        Some(status) if status != "unhealthy" => Ok(0),
        Some(_) => Ok(1),
        None => anyhow::bail!("container {}: no health check, or not running", a.container),
    }
}
