//! `berth history IMAGE`: how an image's layers were made, newest first, with docker's
//! columns and formats.

use serde_json::json;

use super::{human_size, since};
use crate::context::Context;
use crate::format::{self, Columns};

/// Show how an image's layers were made.
#[derive(clap::Args)]
pub struct Args {
    /// Image (name or ID).
    image: String,
    /// Sizes and times for people (`-H=false`: bytes and RFC 3339).
    #[arg(short = 'H', long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    human: bool,
    /// Do not cut IDs and commands short.
    #[arg(long)]
    no_trunc: bool,
    /// Print only image IDs.
    #[arg(short, long)]
    quiet: bool,
    /// `table`, `table TEMPLATE`, `json` or a Go template (docker's fields: .ID
    /// .CreatedSince .CreatedAt .CreatedBy .Size .Comment).
    #[arg(long)]
    format: Option<String>,
}

const COLUMNS: Columns = Columns {
    default: "{{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
    headers: &[
        ("ID", "IMAGE"),
        ("CreatedSince", "CREATED"),
        ("CreatedAt", "CREATED AT"),
        ("CreatedBy", "CREATED BY"),
        ("Size", "SIZE"),
        ("Comment", "COMMENT"),
    ],
};

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let img = store.image(&a.image)?;
    let id = match a.no_trunc {
        true => img.id.to_string(),
        false => img.id.short().to_string(),
    };
    let mut sizes = img.manifest.layers().iter().map(|l| l.size()).rev();
    let history = img.config.history().clone().unwrap_or_default();
    let mut items = Vec::new();
    // Newest first, as docker prints it; empty layers (ENV, CMD ...) have no blob. Only the
    // newest entry is the image itself; the others have no image of their own.
    for (i, h) in history.iter().rev().enumerate() {
        let size = if h.empty_layer().unwrap_or(false) {
            0
        } else {
            sizes.next().unwrap_or(0)
        };
        let created = h.created().clone();
        let by = h.created_by().clone().unwrap_or_default();
        let by = match a.no_trunc || by.chars().count() <= 45 {
            true => by,
            false => format!("{}…", by.chars().take(44).collect::<String>()),
        };
        let row_id = if i == 0 {
            id.clone()
        } else {
            "<missing>".into()
        };
        if a.quiet {
            println!("{row_id}");
            continue;
        }
        items.push(json!({
            "ID": row_id,
            "CreatedSince": match a.human {
                true => since(created.as_deref()),
                false => created.clone().unwrap_or_default(),
            },
            "CreatedAt": created.unwrap_or_default(),
            "CreatedBy": by,
            "Size": match a.human {
                true => human_size(size),
                false => size.to_string(),
            },
            "Comment": h.comment().clone().unwrap_or_default(),
        }));
    }
    if a.quiet {
        return Ok(());
    }
    format::print(a.format.as_deref(), &items, &COLUMNS)
}
