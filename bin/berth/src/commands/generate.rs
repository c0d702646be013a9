//! `berth generate systemd CONTAINER`: a systemd unit that starts and stops a container,
//! as podman's `generate systemd`: without a daemon, systemd is what brings containers up
//! at boot.

use crate::context::Context;

/// Write files for other programs.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(clap::Subcommand)]
#[command(defer = true)]
enum What {
    /// A systemd unit for a container.
    Systemd {
        /// Container (name or id).
        container: String,
    },
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    let What::Systemd { container } = a.what;
    let r = ctx.engine()?.container(&container)?;
    let berth = std::env::current_exe()?;
    let cmd = format!("{} --root {}", berth.display(), ctx.root.display());
    print!(
        "# berth-{name}.service, made by `berth generate systemd {name}`.
# Install it in /etc/systemd/system and `systemctl enable --now berth-{name}`.
[Unit]
Description=berth container {name}
Wants=network-online.target
After=network-online.target

[Service]
# `start` returns once the container runs; its monitor keeps attending it.
Type=oneshot
RemainAfterExit=yes
ExecStart={cmd} start {id}
ExecStop={cmd} stop {id}

[Install]
WantedBy=multi-user.target
",
        name = r.name,
        id = r.id,
    );
    Ok(())
}
