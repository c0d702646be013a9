//! `ps`.

use anyhow::{Context, Result};
use berth_container::Runtime;
use clap::Args;

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Output format: table (the host's `ps`, filtered) or json (an array of pids).
    #[arg(short, long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
    /// The container id.
    pub id: String,
    /// Options for `ps` (default -ef), after `--` when they start with a dash.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

pub fn run(rt: &Runtime, a: &PsArgs) -> Result<()> {
    let pids = berth_container::ps::pids(rt, &a.id).with_context(|| format!("ps {}", a.id))?;
    if a.format == "json" {
        println!("{}", serde_json::to_string(&pids)?);
        return Ok(());
    }
    let table =
        berth_container::ps::table(&pids, &a.ps_args).with_context(|| format!("ps {}", a.id))?;
    print!("{table}");
    Ok(())
}
