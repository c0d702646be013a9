//! `state`.

use anyhow::{Context, Result};
use berth_container::Runtime;
use clap::Args;

#[derive(Args, Debug)]
pub struct StateArgs {
    /// The container id.
    pub id: String,
}

pub fn run(rt: &Runtime, a: &StateArgs) -> Result<()> {
    let r =
        berth_container::state_cmd::state(rt, &a.id).with_context(|| format!("state {}", a.id))?;
    println!("{}", serde_json::to_string_pretty(&r)?);
    Ok(())
}
