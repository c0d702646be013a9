//! `delete`.

use anyhow::{Context, Result};
use berth_container::Runtime;
use clap::Args;

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// Kill a running container first.
    #[arg(short, long)]
    pub force: bool,
    /// The container id.
    pub id: String,
}

pub fn run(rt: &Runtime, a: &DeleteArgs) -> Result<()> {
    match berth_container::delete::delete(rt, &a.id, a.force) {
        // runc: deleting a container that does not exist with --force is not an error.
        Err(berth_container::Error::State(berth_container::state::StateError::NotFound(_)))
            if a.force =>
        {
            Ok(())
        }
        r => r.with_context(|| format!("delete {}", a.id)),
    }
}
