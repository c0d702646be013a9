//! `berth unshare [COMMAND [ARG...]]`: a command (the user's shell by default) in the user's
//! berth namespace, as podman's `unshare`: to look at the store with the owners containers
//! see, or to remove it.

use anyhow::{bail, Context as _};
use std::os::unix::process::CommandExt;

/// Run a command in rootless berth's user and mount namespaces.
#[derive(clap::Args)]
#[command(trailing_var_arg = true)]
pub struct Args {
    /// The command and its arguments (default: $SHELL, else /bin/sh).
    #[arg(allow_hyphen_values = true)]
    command: Vec<String>,
}

/// Replaces berth with the command; returns only on failure.
pub fn run(a: Args) -> anyhow::Result<i32> {
    if !berth_sys::ids::in_user_namespace() {
        bail!("berth unshare is for an ordinary user: root's berth uses the host's namespaces");
    }
    let mut words = a.command.into_iter();
    let program = match words.next() {
        Some(p) => p,
        None => std::env::var("SHELL").unwrap_or_else(|_| "/bin/sh".into()),
    };
    let err = std::process::Command::new(&program).args(words).exec();
    Err(err).with_context(|| format!("running {program}"))
}
