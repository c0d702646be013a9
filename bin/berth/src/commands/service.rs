//! `berth system service [--time SECONDS] [unix://PATH]`: the Docker Engine API on a unix
//! socket (see the berth-api crate), as `podman system service`. It holds no state: it may
//! stop at any time, and with `--time` it exits after that long without a client.

use anyhow::{bail, Context as _};
use berth_api::{Service, Setup};
use berth_engine::start::MonitorCommand;
use std::os::fd::FromRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::Duration;

use crate::context::Context;

/// Where docker's clients look when `DOCKER_HOST=unix:///run/berth/berth.sock`.
const DEFAULT_SOCKET: &str = "unix:///run/berth/berth.sock";

/// systemd's first passed socket (`LISTEN_FDS`).
const SD_LISTEN_FDS_START: i32 = 3;

/// Serve the Docker Engine API (docker, docker-compose and the SDKs drive berth).
#[derive(clap::Args)]
pub struct Args {
    /// Where to listen: unix://PATH (the socket is made 0660, root's group), or nothing
    /// under systemd socket activation.
    uri: Option<String>,
    /// Exit after this many seconds without a client; 0 serves until killed.
    #[arg(short, long, default_value_t = 5)]
    time: u64,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    let listener = match activated_socket()? {
        Some(l) if a.uri.is_none() => l,
        _ => bind(a.uri.as_deref().unwrap_or(DEFAULT_SOCKET))?,
    };
    let setup = Setup {
        root: ctx.root.clone(),
        config: ctx.config.clone(),
        monitor: ctx.monitor_command(),
        cli: MonitorCommand {
            program: std::env::current_exe().context("the berth binary")?,
            args: vec![
                "--root".into(),
                ctx.root.clone().into(),
                "--config".into(),
                ctx.config.clone().into(),
            ],
        },
    };
    let idle = (a.time > 0).then(|| Duration::from_secs(a.time));
    Service::new(setup).serve(listener, idle)?;
    Ok(())
}

/// The socket systemd passed (`LISTEN_PID` is this process, `LISTEN_FDS` at least 1).
fn activated_socket() -> anyhow::Result<Option<UnixListener>> {
    let for_me = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        == Some(std::process::id());
    let count: i32 = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    if !for_me || count < 1 {
        return Ok(None);
    }
    // SAFETY: systemd hands fd 3 to this process as a listening socket (LISTEN_PID is
    // ours); nothing else in the process owns it.
    let listener = unsafe { UnixListener::from_raw_fd(SD_LISTEN_FDS_START) };
    Ok(Some(listener))
}

/// Listens on `uri`; a socket left by a service that is gone is replaced, one that answers
/// is an error.
fn bind(uri: &str) -> anyhow::Result<UnixListener> {
    let Some(path) = uri.strip_prefix("unix://") else {
        if uri.starts_with("tcp://") {
            bail!("{uri}: tcp is not served yet: use a unix:// socket (docs/API.md)");
        }
        bail!("{uri}: want unix:///PATH");
    };
    let path = Path::new(path);
    if !path.is_absolute() {
        bail!("{uri}: the socket path must be absolute");
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("{}", dir.display()))?;
    }
    if UnixStream::connect(path).is_ok() {
        bail!("{}: another service already listens there", path.display());
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(e).with_context(|| format!("remove stale socket {}", path.display()))
        }
        _ => {}
    }
    // Made 0660 from the start: no moment where another user could connect.
    let old = berth_sys::fs::umask(0o117);
    let bound = UnixListener::bind(path);
    berth_sys::fs::umask(old);
    let listener = bound.with_context(|| format!("listen on {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .with_context(|| format!("chmod {}", path.display()))?;
    Ok(listener)
}
