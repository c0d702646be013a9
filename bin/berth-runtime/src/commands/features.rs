//! `features`.

use anyhow::Result;

pub fn run() -> Result<()> {
    println!(
        "{}",
        serde_json::to_string_pretty(&berth_container::features::features())?
    );
    Ok(())
}
