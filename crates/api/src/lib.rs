//! berth-api: the Docker Engine API (docker's REST API) over a unix socket or TCP with TLS
//! ([`listen`]), so that the docker CLI, docker-compose and the SDKs drive berth. The service
//! keeps no state of its own: every request opens the engine on berth's root and does what the
//! matching `berth` command does, so `berth ps` and the API always agree, and the service may
//! stop and start at any time without touching a container (each runs under its own monitor).
//! The one thing held in memory is an attach made before its container starts (docker's `run`
//! attaches, then starts), handed to the start that follows.
//!
//! One module per group of endpoints: [`system`], [`containers`] (with [`create`] for the
//! create request, [`attach`] for hijacked connections, [`exec`], [`archive`] and stats), [`images`],
//! [`transfer`] (pull, push, save, load, tag, remove), [`build`], [`networks`] (with the
//! volumes).

pub mod archive;
pub mod attach;
mod body;
pub mod build;
pub mod containers;
pub mod create;
pub mod error;
pub mod exec;
pub mod images;
pub mod listen;
pub mod networks;
mod query;
mod stats;
pub mod system;
pub mod transfer;

use berth_engine::start::MonitorCommand;
use berth_engine::Engine;
use body::Reply;
use error::ApiError;
use http::{Method, Request, StatusCode};
use hyper::body::Incoming;
pub use listen::Listener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The newest API version served, and the oldest: a client asking for a newer one is told
/// so, as dockerd does; the docker CLI negotiates down from `_ping`'s `Api-Version`.
pub const API_VERSION: &str = "1.41";
pub const MIN_API_VERSION: &str = "1.24";

/// How long a client may take to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the service finds berth's state, how it starts a container's monitor, and how it
/// runs a `berth` command (`exec`, whose stdio must be the client's connection).
#[derive(Clone)]
pub struct Setup {
    pub root: PathBuf,
    pub config: PathBuf,
    pub monitor: MonitorCommand,
    pub cli: MonitorCommand,
    /// `--cdi-spec-dir`s (none: /etc/cdi and /var/run/cdi).
    pub cdi_spec_dirs: Vec<PathBuf>,
}

/// The service's shared part: its setup, the attaches waiting for a start, and the
/// connections open (for the idle exit).
pub struct Service {
    setup: Setup,
    waiting: attach::Waiting,
    execs: exec::Execs,
    open_connections: AtomicUsize,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("API service: {0}")]
    Io(#[from] std::io::Error),
}

impl Service {
    pub fn new(setup: Setup) -> Arc<Service> {
        Arc::new(Service {
            setup,
            waiting: attach::Waiting::default(),
            execs: exec::Execs::default(),
            open_connections: AtomicUsize::new(0),
        })
    }

    /// The engine over berth's root, for one request.
    pub(crate) fn engine(&self) -> Result<Engine, ApiError> {
        Ok(Engine::open(&self.setup.root)?
            .with_network_config(&self.setup.config)?
            .with_cdi_spec_dirs(&self.setup.cdi_spec_dirs))
    }

    /// Runs `f` on a fresh engine in a thread that may block (engine calls do I/O and wait
    /// for processes).
    pub(crate) async fn blocking<T, F>(self: &Arc<Self>, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Engine, &Service) -> Result<T, ApiError> + Send + 'static,
    {
        let me = Arc::clone(self);
        tokio::task::spawn_blocking(move || f(&me.engine()?, &me))
            .await
            .map_err(|e| ApiError::internal(format!("request handler failed: {e}")))?
    }

    /// Serves `listener` until the process is killed, or until no client has been connected
    /// for `idle` (podman's `--time`).
    pub fn serve(
        self: Arc<Self>,
        listener: Listener,
        idle: Option<Duration>,
    ) -> Result<(), ServeError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        rt.block_on(self.accept_loop(listener, idle))
    }

    async fn accept_loop(
        self: Arc<Self>,
        listener: Listener,
        idle: Option<Duration>,
    ) -> Result<(), ServeError> {
        let (listener, tls) = Accepting::new(listener)?;
        let tls = tls.map(Arc::new);
        loop {
            let accepted = match idle {
                Some(limit) => match tokio::time::timeout(limit, listener.accept()).await {
                    Ok(a) => a,
                    Err(_) if self.open_connections.load(Ordering::SeqCst) == 0 => return Ok(()),
                    Err(_) => continue,
                },
                None => listener.accept().await,
            };
            let conn = match accepted {
                Ok(c) => c,
                // Out of fds or a client gone before its accept: the next one may work.
                Err(e) => {
                    tracing::warn!("API service: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let svc = Arc::clone(&self);
            let tls = tls.clone();
            svc.open_connections.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let served = match (conn, tls) {
                    (Connection::Unix(s), _) => Arc::clone(&svc).serve_connection(s).await,
                    (Connection::Tcp(s), None) => Arc::clone(&svc).serve_connection(s).await,
                    (Connection::Tcp(s), Some(tls)) => match tls.accept(s, HEADER_TIMEOUT).await {
                        Ok(s) => Arc::clone(&svc).serve_connection(s).await,
                        Err(e) => Err(e.to_string()),
                    },
                };
                if let Err(e) = served {
                    tracing::debug!("API connection: {e}");
                }
                svc.open_connections.fetch_sub(1, Ordering::SeqCst);
            });
        }
    }

    /// HTTP/1.1 on one connection, hijacks included, until the client is done.
    async fn serve_connection<S>(self: Arc<Self>, stream: S) -> Result<(), String>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        hyper::server::conn::http1::Builder::new()
            // A client that sends its headers too slowly is cut off, not waited for.
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT)
            .serve_connection(
                hyper_util::rt::TokioIo::new(stream),
                hyper::service::service_fn(move |req| {
                    let svc = Arc::clone(&self);
                    async move { Ok::<_, std::convert::Infallible>(svc.handle(req).await) }
                }),
            )
            .with_upgrades()
            .await
            .map_err(|e| e.to_string())
    }

    /// Answers one request, with the headers dockerd puts on every answer.
    async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Reply {
        let mut reply = match self.route(req).await {
            Ok(r) => r,
            Err(e) => body::error(&e),
        };
        let h = reply.headers_mut();
        for (k, v) in [
            ("api-version", API_VERSION),
            ("server", concat!("berth/", env!("CARGO_PKG_VERSION"))),
            ("ostype", "linux"),
            ("docker-experimental", "false"),
        ] {
            h.insert(k, http::HeaderValue::from_static(v));
        }
        reply
    }

    async fn route(self: Arc<Self>, req: Request<Incoming>) -> Result<Reply, ApiError> {
        let path = unversioned(req.uri().path())?.to_string();
        let q = query::Query::parse(req.uri().query());
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let m = req.method().clone();
        match (&m, segments.as_slice()) {
            (&Method::GET | &Method::HEAD, ["_ping"]) => Ok(system::ping()),
            (&Method::GET, ["version"]) => Ok(system::version()),
            (&Method::GET, ["info"]) => self.info().await,
            (&Method::GET, ["system", "df"]) => self.df().await,
            (&Method::GET, ["events"]) => self.events(q).await,
            (&Method::POST, ["auth"]) => self.auth(req.into_body()).await,
            (&Method::GET, ["containers", "json"]) => self.list(q).await,
            (&Method::POST, ["containers", "create"]) => self.create(q, req.into_body()).await,
            (&Method::POST, ["containers", "prune"]) => self.prune(q).await,
            (&Method::GET, ["containers", id, "json"]) => self.inspect(id).await,
            (&Method::POST, ["containers", id, "start"]) => self.start(id).await,
            (&Method::POST, ["containers", id, "stop"]) => self.stop(id, q).await,
            (&Method::POST, ["containers", id, "restart"]) => self.restart(id, q).await,
            (&Method::POST, ["containers", id, "kill"]) => self.kill(id, q).await,
            (&Method::POST, ["containers", id, "pause"]) => self.pause(id, true).await,
            (&Method::POST, ["containers", id, "unpause"]) => self.pause(id, false).await,
            (&Method::POST, ["containers", id, "rename"]) => self.rename(id, q).await,
            (&Method::POST, ["containers", id, "wait"]) => self.wait(id, q).await,
            (&Method::POST, ["containers", id, "resize"]) => self.resize(id, q).await,
            (&Method::DELETE, ["containers", id]) => self.remove(id, q).await,
            (&Method::GET, ["containers", id, "logs"]) => self.logs(id, q).await,
            (&Method::GET, ["containers", id, "top"]) => self.top(id, q).await,
            (&Method::GET, ["containers", id, "stats"]) => self.stats(id, q).await,
            (&Method::GET, ["containers", id, "changes"]) => self.changes(id).await,
            (&Method::GET, ["containers", id, "export"]) => self.export(id).await,
            (&Method::POST, ["containers", id, "update"]) => {
                let id = id.to_string();
                self.update(&id, req.into_body()).await
            }
            (&Method::POST, ["commit"]) => self.commit(q).await,
            (&Method::HEAD, ["containers", id, "archive"]) => self.archive_get(id, q, false).await,
            (&Method::GET, ["containers", id, "archive"]) => self.archive_get(id, q, true).await,
            (&Method::PUT, ["containers", id, "archive"]) => {
                let id = id.to_string();
                self.archive_put(&id, q, req.into_body()).await
            }
            (&Method::POST, ["containers", id, "attach"]) => {
                let id = id.to_string();
                self.attach(&id, q, req).await
            }
            (&Method::POST, ["containers", id, "exec"]) => {
                let id = id.to_string();
                self.exec_create(&id, req.into_body()).await
            }
            (&Method::POST, ["exec", id, "start"]) => {
                let id = id.to_string();
                self.exec_start(&id, req).await
            }
            (&Method::POST, ["exec", id, "resize"]) => self.exec_resize(id, q).await,
            (&Method::GET, ["exec", id, "json"]) => self.exec_inspect(id).await,
            (&Method::POST, ["build"]) => self.build(q, req.into_body()).await,
            (&Method::GET, ["networks"]) => self.networks(q).await,
            (&Method::POST, ["networks", "create"]) => self.network_create(req.into_body()).await,
            (&Method::POST, ["networks", "prune"]) => self.network_prune().await,
            (&Method::GET, ["networks", name]) => self.network(name).await,
            (&Method::DELETE, ["networks", name]) => self.network_remove(name).await,
            (&Method::POST, ["networks", name, verb @ ("connect" | "disconnect")]) => {
                let (name, connect) = (name.to_string(), *verb == "connect");
                self.network_connect(&name, req.into_body(), connect).await
            }
            (&Method::GET, ["volumes"]) => self.volumes(q).await,
            (&Method::POST, ["volumes", "create"]) => self.volume_create(req.into_body()).await,
            (&Method::POST, ["volumes", "prune"]) => self.volume_prune(q).await,
            (&Method::GET, ["volumes", name]) => self.volume(name).await,
            (&Method::DELETE, ["volumes", name]) => self.volume_remove(name, q).await,
            (&Method::GET, ["images", "json"]) => self.images(q).await,
            (&Method::POST, ["images", "create"]) if q.get("fromSrc").is_some() => {
                self.import(q, req.into_body()).await
            }
            (&Method::POST, ["images", "create"]) => {
                let headers = req.headers().clone();
                self.pull(q, &headers).await
            }
            (&Method::POST, ["images", "load"]) => self.load(req.into_body()).await,
            (&Method::GET, ["images", "get"]) => self.save(q.all("names")).await,
            (&Method::POST, ["images", "prune"]) => self.prune_images(q).await,
            (_, ["images", name @ .., verb]) if !name.is_empty() => {
                let name = name.join("/");
                match (&m, *verb) {
                    (&Method::GET, "json") => self.image(&name).await,
                    (&Method::GET, "history") => self.history(&name).await,
                    (&Method::GET, "get") => self.save(vec![name]).await,
                    (&Method::POST, "tag") => self.tag(&name, q).await,
                    (&Method::POST, "push") => {
                        let headers = req.headers().clone();
                        self.push(&name, q, &headers).await
                    }
                    (&Method::DELETE, _) => self.remove_image(&format!("{name}/{verb}"), q).await,
                    _ => Err(ApiError::not_supported(&format!("{m} {path}"))),
                }
            }
            (&Method::DELETE, ["images", name]) => self.remove_image(name, q).await,
            _ => Err(ApiError::not_supported(&format!("{m} {path}"))),
        }
    }
}

/// The path without its `/v1.NN` prefix; a version newer than berth's is refused.
fn unversioned(path: &str) -> Result<&str, ApiError> {
    let Some(rest) = path.strip_prefix("/v") else {
        return Ok(path);
    };
    let (version, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let number = |v: &str| -> Option<(u32, u32)> {
        let (a, b) = v.split_once('.')?;
        Some((a.parse().ok()?, b.parse().ok()?))
    };
    let (Some(asked), Some(max), Some(min)) = (
        number(version),
        number(API_VERSION),
        number(MIN_API_VERSION),
    ) else {
        return Ok(path);
    };
    if asked > max {
        return Err(ApiError::bad_request(format!(
            "client version {version} is too new. Maximum supported API version is {API_VERSION}"
        )));
    }
    if asked < min {
        return Err(ApiError::bad_request(format!(
            "client version {version} is too old. Minimum supported API version is {MIN_API_VERSION}, please upgrade your client to a newer version"
        )));
    }
    Ok(tail)
}

/// An answer with no content, docker's for a verb that worked.
pub(crate) fn no_content() -> Reply {
    body::status(StatusCode::NO_CONTENT)
}

/// The listener in tokio's hands, and what it accepts.
enum Accepting {
    Unix(tokio::net::UnixListener),
    Tcp(tokio::net::TcpListener),
}

enum Connection {
    Unix(tokio::net::UnixStream),
    Tcp(tokio::net::TcpStream),
}

impl Accepting {
    fn new(l: Listener) -> std::io::Result<(Accepting, Option<listen::Tls>)> {
        Ok(match l {
            Listener::Unix(l) => {
                l.set_nonblocking(true)?;
                (
                    Accepting::Unix(tokio::net::UnixListener::from_std(l)?),
                    None,
                )
            }
            Listener::Tcp { listener, tls } => {
                listener.set_nonblocking(true)?;
                (
                    Accepting::Tcp(tokio::net::TcpListener::from_std(listener)?),
                    tls,
                )
            }
        })
    }

    async fn accept(&self) -> std::io::Result<Connection> {
        Ok(match self {
            Accepting::Unix(l) => Connection::Unix(l.accept().await?.0),
            Accepting::Tcp(l) => {
                let (s, _) = l.accept().await?;
                // Small requests and stream frames go out at once, as Go's net does.
                s.set_nodelay(true)?;
                Connection::Tcp(s)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::unversioned;

    #[test]
    fn the_version_prefix_is_negotiated() {
        assert_eq!(
            unversioned("/v1.41/containers/json").unwrap(),
            "/containers/json"
        );
        assert_eq!(unversioned("/v1.24/_ping").unwrap(), "/_ping");
        assert_eq!(unversioned("/_ping").unwrap(), "/_ping");
        let e = unversioned("/v1.99/info").unwrap_err();
        assert!(e.message.contains("too new"), "{}", e.message);
        assert!(unversioned("/v1.12/info").is_err());
        // A path that merely starts with v is not a version.
        assert_eq!(unversioned("/volumes").unwrap(), "/volumes");
    }
}
