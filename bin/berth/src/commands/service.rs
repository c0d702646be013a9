//! `berth system service [--time SECONDS] [unix://PATH | tcp://HOST:PORT]`: the Docker Engine
//! API on a unix socket or on TCP with TLS (see the berth-api crate), as `podman system
//! service` and dockerd's `-H`. It holds no state: it may stop at any time, and with `--time`
//! it exits after that long without a client.

use anyhow::{bail, Context as _};
use berth_api::listen::{Tls, TlsFiles};
use berth_api::{Listener, Service, Setup};
use berth_engine::start::MonitorCommand;
use std::os::fd::FromRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::context::Context;

/// Where docker's clients look when `DOCKER_HOST=unix:///run/berth/berth.sock`.
const DEFAULT_SOCKET: &str = "unix:///run/berth/berth.sock";

/// systemd's first passed socket (`LISTEN_FDS`).
const SD_LISTEN_FDS_START: i32 = 3;

/// Serve the Docker Engine API (docker, docker-compose and the SDKs drive berth).
#[derive(clap::Args)]
pub struct Args {
    /// Where to listen: unix://PATH (the socket is made 0660, root's group), tcp://HOST[:PORT]
    /// (TLS, see --tlsverify), or nothing under systemd socket activation.
    uri: Option<String>,
    /// Exit after this many seconds without a client; 0 serves until killed.
    #[arg(short, long, default_value_t = 5)]
    time: u64,
    #[command(flatten)]
    tls: TlsArgs,
}

/// dockerd's TLS flags, for a tcp:// address.
#[derive(clap::Args, Default)]
struct TlsArgs {
    /// TLS with --tlscert and --tlskey, any client accepted; --tls=false serves plain TCP to
    /// anyone who reaches the address.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    tls: Option<bool>,
    /// TLS, and a client must show a certificate signed by --tlscacert.
    #[arg(long)]
    tlsverify: bool,
    /// The CA that client certificates must chain to (PEM).
    #[arg(long, value_name = "FILE")]
    tlscacert: Option<PathBuf>,
    /// The service's certificate chain (PEM).
    #[arg(long, value_name = "FILE")]
    tlscert: Option<PathBuf>,
    /// The service's private key (PEM).
    #[arg(long, value_name = "FILE")]
    tlskey: Option<PathBuf>,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    let listener = match activated_socket()? {
        Some(l) if a.uri.is_none() && a.tls.is_empty() => Listener::Unix(l),
        _ => listen(a.uri.as_deref().unwrap_or(DEFAULT_SOCKET), &a.tls)?,
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
        cdi_spec_dirs: ctx.cdi_spec_dirs.clone(),
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

/// How a service on a tcp:// address guards it.
#[derive(Debug, PartialEq)]
enum TcpGuard {
    /// Clients must show a certificate of the CA.
    Verify(TlsFiles),
    /// Encrypted, but any client may drive berth.
    Tls(TlsFiles),
    Plain,
}

impl TlsArgs {
    fn is_empty(&self) -> bool {
        self.tls.is_none()
            && !self.tlsverify
            && self.tlscacert.is_none()
            && self.tlscert.is_none()
            && self.tlskey.is_none()
    }

    /// What the flags ask for, or why they do not make sense together.
    fn guard(&self, uri: &str) -> anyhow::Result<TcpGuard> {
        let server_files = |client_ca| -> anyhow::Result<TlsFiles> {
            match (&self.tlscert, &self.tlskey) {
                (Some(cert), Some(key)) => Ok(TlsFiles {
                    cert: cert.clone(),
                    key: key.clone(),
                    client_ca,
                }),
                _ => bail!("{uri}: TLS needs --tlscert and --tlskey"),
            }
        };
        match (self.tlsverify, self.tls) {
            (true, Some(false)) => bail!("{uri}: --tlsverify and --tls=false contradict"),
            (true, _) => {
                let Some(ca) = &self.tlscacert else {
                    bail!("{uri}: --tlsverify needs --tlscacert, the clients' CA");
                };
                Ok(TcpGuard::Verify(server_files(Some(ca.clone()))?))
            }
            (false, _) if self.tlscacert.is_some() => {
                bail!("{uri}: --tlscacert verifies clients only with --tlsverify")
            }
            (false, Some(true)) => Ok(TcpGuard::Tls(server_files(None)?)),
            (false, Some(false)) if self.tlscert.is_some() || self.tlskey.is_some() => {
                bail!("{uri}: --tls=false serves no certificate")
            }
            (false, Some(false)) => Ok(TcpGuard::Plain),
            (false, None) => bail!(
                "{uri}: TCP is served with TLS only: give --tlsverify --tlscacert CA \
                 --tlscert CERT --tlskey KEY (or --tls=false to serve it unauthenticated)"
            ),
        }
    }
}

/// Listens on `uri`.
fn listen(uri: &str, tls: &TlsArgs) -> anyhow::Result<Listener> {
    if let Some(address) = uri.strip_prefix("tcp://") {
        return listen_tcp(uri, address, tls.guard(uri)?);
    }
    if !tls.is_empty() {
        bail!("{uri}: the --tls flags are for a tcp:// address");
    }
    Ok(Listener::Unix(bind(uri)?))
}

fn listen_tcp(uri: &str, address: &str, guard: TcpGuard) -> anyhow::Result<Listener> {
    if address.contains('/') {
        bail!("{uri}: want tcp://HOST[:PORT]");
    }
    let (tls, default_port, warning) = match guard {
        TcpGuard::Verify(files) => (Some(Tls::load(&files)?), 2376, None),
        TcpGuard::Tls(files) => (
            Some(Tls::load(&files)?),
            2376,
            Some(
                "TLS without --tlsverify: anyone who reaches this address can drive berth, \
                 as root",
            ),
        ),
        TcpGuard::Plain => (
            None,
            2375,
            Some(
                "plain TCP (--tls=false): anyone who reaches this address can drive berth, \
                 as root, and read what passes",
            ),
        ),
    };
    let address = with_port(address, default_port);
    let listener = std::net::TcpListener::bind(&address)
        .with_context(|| format!("listen on tcp://{address}"))?;
    if let Some(w) = warning {
        tracing::warn!("{uri}: {w}");
    }
    Ok(Listener::Tcp { listener, tls })
}

/// `HOST` gets dockerd's port; `HOST:PORT`, `[V6]:PORT` stay.
fn with_port(address: &str, port: u16) -> String {
    let has_port = match address.rsplit_once(':') {
        Some((host, _)) => !host.is_empty() && (host.ends_with(']') || !host.contains(':')),
        None => false,
    };
    match has_port {
        true => address.to_string(),
        false => format!("{address}:{port}"),
    }
}

/// Listens on the unix socket of `uri`; a socket left by a service that is gone is replaced,
/// one that answers is an error.
fn bind(uri: &str) -> anyhow::Result<UnixListener> {
    let Some(path) = uri.strip_prefix("unix://") else {
        bail!("{uri}: want unix:///PATH or tcp://HOST[:PORT]");
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

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(f: impl FnOnce(&mut TlsArgs)) -> TlsArgs {
        let mut a = TlsArgs::default();
        f(&mut a);
        a
    }

    fn files(ca: Option<&str>) -> TlsFiles {
        TlsFiles {
            cert: "c.pem".into(),
            key: "k.pem".into(),
            client_ca: ca.map(PathBuf::from),
        }
    }

    #[test]
    fn tcp_is_served_with_tls_unless_told_otherwise() {
        let u = "tcp://127.0.0.1";
        let err = |a: TlsArgs| a.guard(u).unwrap_err().to_string();
        assert!(err(TlsArgs::default()).contains("TCP is served with TLS only"));
        let server = |a: &mut TlsArgs| {
            a.tlscert = Some("c.pem".into());
            a.tlskey = Some("k.pem".into());
        };
        let verify = flags(|a| {
            server(a);
            a.tlsverify = true;
            a.tlscacert = Some("ca.pem".into());
        });
        assert_eq!(
            verify.guard(u).unwrap(),
            TcpGuard::Verify(files(Some("ca.pem")))
        );
        let tls = flags(|a| {
            server(a);
            a.tls = Some(true);
        });
        assert_eq!(tls.guard(u).unwrap(), TcpGuard::Tls(files(None)));
        assert_eq!(
            flags(|a| a.tls = Some(false)).guard(u).unwrap(),
            TcpGuard::Plain
        );
        assert!(err(flags(|a| a.tlsverify = true)).contains("needs --tlscacert"));
        assert!(err(flags(|a| {
            a.tlsverify = true;
            a.tlscacert = Some("ca.pem".into());
        }))
        .contains("needs --tlscert and --tlskey"));
        assert!(err(flags(|a| {
            server(a);
            a.tls = Some(true);
            a.tlscacert = Some("ca.pem".into());
        }))
        .contains("only with --tlsverify"));
        assert!(err(flags(|a| {
            server(a);
            a.tls = Some(false);
        }))
        .contains("serves no certificate"));
        assert!(err(flags(|a| {
            a.tls = Some(false);
            a.tlsverify = true;
        }))
        .contains("contradict"));
    }

    #[test]
    fn tls_flags_on_a_unix_socket_are_refused() {
        let a = flags(|a| a.tlsverify = true);
        let e = listen("unix:///tmp/x.sock", &a).err().unwrap().to_string();
        assert!(e.contains("are for a tcp:// address"), "{e}");
    }

    #[test]
    fn a_port_is_added_where_missing() {
        assert_eq!(with_port("127.0.0.1", 2376), "127.0.0.1:2376");
        assert_eq!(with_port("127.0.0.1:9", 2376), "127.0.0.1:9");
        assert_eq!(with_port("localhost", 2375), "localhost:2375");
        assert_eq!(with_port("[::1]", 2376), "[::1]:2376");
        assert_eq!(with_port("[::1]:9", 2376), "[::1]:9");
    }
}
