//! `berth login [-u USER] [-p PASS | --password-stdin] REGISTRY`

use std::io::BufRead;

use anyhow::{bail, Context as _};
use berth_image::registry::{save_credentials, Client, Credentials};

use super::TlsArgs;
use crate::context::Context;

/// Log in to a registry.
#[derive(clap::Args)]
pub struct Args {
    /// Registry host[:port].
    registry: String,
    #[arg(short, long)]
    username: Option<String>,
    /// Password (visible in `ps`; prefer --password-stdin).
    #[arg(short, long)]
    password: Option<String>,
    /// Read the password from standard input.
    #[arg(long)]
    password_stdin: bool,
    #[command(flatten)]
    tls: TlsArgs,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    let Some(username) = a.username else {
        bail!("login {}: --username is required", a.registry)
    };
    let password = match (a.password, a.password_stdin) {
        (Some(p), false) => p,
        (None, true) => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("reading the password from stdin")?;
            line.trim_end_matches(['\n', '\r']).to_string()
        }
        _ => bail!(
            "login {}: give exactly one of --password and --password-stdin",
            a.registry
        ),
    };
    let creds = Credentials { username, password };
    let cfg = ctx.registry_config(a.tls.tls_verify)?;
    let client = Client::new(&a.registry, &cfg, Some(creds.clone()))
        .with_context(|| format!("login {}", a.registry))?;
    client
        .verify_login()
        .with_context(|| format!("login {}", a.registry))?;
    save_credentials(&ctx.config, &a.registry, Some(&creds))?;
    println!("Login Succeeded");
    Ok(())
}
