//! `list`.

use anyhow::Result;
use berth_container::Runtime;
use clap::Args;

#[derive(Args, Debug)]
pub struct ListArgs {
    /// table or json.
    #[arg(short, long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
    /// Print only the ids.
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn run(rt: &Runtime, a: &ListArgs) -> Result<()> {
    let all = berth_container::list::list(rt)?;
    if a.quiet {
        for r in &all {
            println!("{}", r.id);
        }
    } else if a.format == "json" {
        println!("{}", serde_json::to_string(&all)?);
    } else {
        println!(
            "{:<20} {:<10} {:<10} {:<40} {:<32} OWNER",
            "ID", "PID", "STATUS", "BUNDLE", "CREATED"
        );
        for r in &all {
            println!(
                "{:<20} {:<10} {:<10} {:<40} {:<32} {}",
                r.id,
                r.pid,
                r.status.to_string(),
                r.bundle.display(),
                r.created,
                r.owner
            );
        }
    }
    Ok(())
}
