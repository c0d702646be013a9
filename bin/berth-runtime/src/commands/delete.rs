//! `delete`.

use anyhow::{Context, Result};
use berth_container::Runtime;
use clap::Args;
use regex::Regex;

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// Kill a running container first.
    #[arg(short, long)]
    pub force: bool,
    /// Treat ID as a regular expression and delete every container whose id it matches
    /// (crun's flag).
    #[arg(short, long)]
    pub regex: bool,
    /// The container id.
    pub id: String,
}

pub fn run(rt: &Runtime, a: &DeleteArgs) -> Result<()> {
    if !a.regex {
        return delete_one(rt, &a.id, a.force);
    }
    let re = Regex::new(&a.id).with_context(|| format!("delete --regex {:?}", a.id))?;
    for c in berth_container::list::list(rt)? {
        if re.is_match(&c.id) {
            delete_one(rt, &c.id, a.force)?;
        }
    }
    Ok(())
}

fn delete_one(rt: &Runtime, id: &str, force: bool) -> Result<()> {
    match berth_container::delete::delete(rt, id, force) {
        // runc: deleting a container that does not exist with --force is not an error.
        Err(berth_container::Error::State(berth_container::state::StateError::NotFound(_)))
            if force =>
        {
            Ok(())
        }
        r => r.with_context(|| format!("delete {id}")),
    }
}
