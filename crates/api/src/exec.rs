//! `exec`: `POST /containers/{id}/exec` records what to run, `POST /exec/{id}/start` runs
//! it as `berth exec` does (that very command, a child of the service, so that its stdio is
//! the client's connection), `GET /exec/{id}/json` tells how it ended, `resize` sizes its
//! terminal. Like dockerd, the service keeps exec instances in memory only: they are gone
//! when it restarts (the processes themselves are the container's).

use crate::body::{self, Reply};
use crate::error::ApiError;
use crate::query::Query;
use crate::Service;
use bytes::Bytes;
use http::{Request, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExecConfig {
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    pub tty: bool,
    pub env: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub privileged: bool,
    pub user: String,
    pub working_dir: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct StartBody {
    detach: bool,
}

/// How long an ended exec instance can still be inspected.
const EXEC_KEPT: std::time::Duration = std::time::Duration::from_secs(300);

/// How long an inspect waits for an attached exec's end (see `exec_inspect`).
const ATTACHED_END_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// One exec instance: what to run where, and how it went.
pub struct Exec {
    container: String,
    config: ExecConfig,
    state: Mutex<ExecState>,
    /// Becomes true once the process ended and its status is recorded.
    ended: tokio::sync::watch::Sender<bool>,
    created: std::time::Instant,
}

#[derive(Default)]
struct ExecState {
    /// When its process ended (instances are forgotten a while after).
    ended_at: Option<std::time::Instant>,
    started: bool,
    running: bool,
    /// Started with a client on its stdio (not detached).
    attached: bool,
    exit_code: Option<i32>,
    pid: u32,
    /// The terminal's master side while it runs (for resize).
    master: Option<Arc<OwnedFd>>,
}

/// The exec instances of this service, by id.
#[derive(Default)]
pub struct Execs(Mutex<HashMap<String, Arc<Exec>>>);

impl Execs {
    fn get(&self, id: &str) -> Result<Arc<Exec>, ApiError> {
        self.0
            .lock()
            .ok()
            .and_then(|m| m.get(id).cloned())
            .ok_or_else(|| ApiError::not_found(format!("No such exec instance: {id}")))
    }
}

impl Exec {
    fn update(&self, f: impl FnOnce(&mut ExecState)) {
        if let Ok(mut s) = self.state.lock() {
            f(&mut s)
        }
    }

    /// `berth exec` with this instance's flags; `detach`: without a client's stdio, telling
    /// on [`NOTIFY_START_FD`] when the program runs.
    fn command(&self, setup: &crate::Setup, detach: bool) -> tokio::process::Command {
        let c = &self.config;
        let mut cmd = tokio::process::Command::new(&setup.cli.program);
        cmd.args(&setup.cli.args).arg("exec");
        if c.attach_stdin && !detach {
            cmd.arg("-i");
        }
        if c.tty && !detach {
            cmd.arg("-t");
        }
        if detach {
            cmd.arg("--notify-start");
        }
        for e in c.env.iter().flatten() {
            cmd.arg("-e").arg(e);
        }
        if !c.user.is_empty() {
            cmd.arg("-u").arg(&c.user);
        }
        if !c.working_dir.is_empty() {
            cmd.arg("-w").arg(&c.working_dir);
        }
        if c.privileged {
            cmd.arg("--privileged");
        }
        cmd.arg(&self.container).args(c.cmd.iter().flatten());
        cmd
    }
}

impl Service {
    pub(crate) async fn exec_create(
        self: Arc<Self>,
        id: &str,
        b: Incoming,
    ) -> Result<Reply, ApiError> {
        let config: ExecConfig = body::read_json(b).await?;
        if config.cmd.as_ref().is_none_or(Vec::is_empty) {
            return Err(ApiError::bad_request("exec: no command given (Cmd)"));
        }
        let what = id.to_string();
        let container = self
            .blocking(move |e, _| {
                let r = e.container(&what)?;
                if r.state != berth_engine::State::Running {
                    return Err(ApiError::new(
                        StatusCode::CONFLICT,
                        format!("Container {what} is not running"),
                    ));
                }
                Ok(r.id)
            })
            .await?;
        let exec_id = berth_engine::names::new_id()?;
        let exec = Arc::new(Exec {
            container,
            config,
            state: Mutex::new(ExecState::default()),
            ended: tokio::sync::watch::Sender::new(false),
            created: std::time::Instant::now(),
        });
        if let Ok(mut m) = self.execs.0.lock() {
            // As dockerd: an instance whose process ended goes some minutes later, so a
            // long-lived service does not keep every exec it ever ran.
            m.retain(|_, x| {
                let since = x.state.lock().ok().and_then(|s| match s.started {
                    true => s.ended_at,
                    false => Some(x.created),
                });
                since.is_none_or(|t| t.elapsed() < EXEC_KEPT)
            });
            m.insert(exec_id.clone(), exec);
        }
        Ok(body::json(StatusCode::CREATED, &json!({"Id": exec_id})))
    }

    pub(crate) async fn exec_inspect(self: Arc<Self>, id: &str) -> Result<Reply, ApiError> {
        let x = self.execs.get(id)?;
        // docker's clients ask for the status as soon as an attached exec's stream ends;
        // with a terminal they may see its end a moment before the process's: give an
        // attached process that moment to be recorded.
        let attached = x.state.lock().is_ok_and(|s| s.running && s.attached);
        if attached {
            let mut ended = x.ended.subscribe();
            let _ = tokio::time::timeout(ATTACHED_END_WAIT, ended.wait_for(|e| *e)).await;
        }
        let c = &x.config;
        let (running, exit_code, pid) = x
            .state
            .lock()
            .map(|s| (s.running, s.exit_code, s.pid))
            .unwrap_or_default();
        let cmd = c.cmd.clone().unwrap_or_default();
        Ok(body::ok(&json!({
            "ID": id, "Running": running, "ExitCode": exit_code, "Pid": pid,
            "ContainerID": x.container, "OpenStdin": c.attach_stdin,
            "OpenStdout": c.attach_stdout, "OpenStderr": c.attach_stderr,
            "CanRemove": false, "DetachKeys": "",
            "ProcessConfig": {"tty": c.tty, "entrypoint": cmd.first(),
                              "arguments": cmd.get(1..).unwrap_or_default(),
                              "privileged": c.privileged, "user": c.user},
        })))
    }

    pub(crate) async fn exec_resize(
        self: Arc<Self>,
        id: &str,
        q: Query,
    ) -> Result<Reply, ApiError> {
        let x = self.execs.get(id)?;
        let (h, w) = (q.number::<u16>("h")?, q.number::<u16>("w")?);
        let master = x.state.lock().ok().and_then(|s| s.master.clone());
        let Some(master) = master else {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("exec {id}: no terminal to resize (not running with Tty)"),
            ));
        };
        berth_sys::pty::set_window_size(master.as_fd(), h.unwrap_or(0), w.unwrap_or(0))
            .map_err(|e| ApiError::internal(format!("exec {id}: resize: {e}")))?;
        Ok(body::status(StatusCode::OK))
    }

    pub(crate) async fn exec_start(
        self: Arc<Self>,
        id: &str,
        mut req: Request<Incoming>,
    ) -> Result<Reply, ApiError> {
        let x = self.execs.get(id)?;
        let on_upgrade = hyper::upgrade::on(&mut req);
        let start: StartBody = body::read_json(req.into_body()).await?;
        let mut first = false;
        x.update(|s| {
            first = !s.started;
            s.started = true;
        });
        if !first {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("exec {id}: already started"),
            ));
        }
        if start.detach {
            let running = spawn_detached(&x, &self.setup)
                .await
                .map_err(|e| ApiError::internal(format!("exec {id}: {e}")))?
                .map_err(ApiError::internal)?;
            // Followed to its end, as dockerd does, for its exit code.
            tokio::spawn(async move { running.relay(None::<tokio::io::DuplexStream>, &x).await });
            return Ok(body::status(StatusCode::OK));
        }
        let running =
            spawn(&x, &self.setup).map_err(|e| ApiError::internal(format!("exec {id}: {e}")))?;
        let tty = x.config.tty;
        tokio::spawn(async move {
            let client = match on_upgrade.await {
                Ok(up) => Some(TokioIo::new(up)),
                Err(e) => {
                    tracing::debug!("exec: upgrade: {e}");
                    None
                }
            };
            running.relay(client, &x).await;
        });
        Ok(body::upgraded(tty))
    }
}

/// Where `berth exec --notify-start` writes its byte.
const NOTIFY_START_FD: std::os::fd::RawFd = 3;

/// A detached exec: `berth exec` with no stdio of a client's (its output is discarded, as
/// dockerd's is), started once it says the program runs; else what it said on stderr.
async fn spawn_detached(
    x: &Arc<Exec>,
    setup: &crate::Setup,
) -> std::io::Result<Result<Running, String>> {
    let (mut started, notify) = std::io::pipe()?;
    let notify = OwnedFd::from(notify);
    let mut cmd = x.command(setup, true);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: between fork and exec only dup3 (async-signal-safe) on fds that stay open.
    unsafe {
        cmd.pre_exec(move || berth_sys::fs::dup_onto(notify.as_fd(), NOTIFY_START_FD));
    }
    let mut child = cmd.spawn()?;
    // The parent's copy of the write end goes with the command, so the read ends at the
    // child's exit.
    drop(cmd);
    let ran = tokio::task::spawn_blocking(move || {
        let mut byte = [0u8; 1];
        std::io::Read::read(&mut started, &mut byte).map(|n| n == 1)
    })
    .await
    .map_err(std::io::Error::other)??;
    if !ran {
        let out = child.wait_with_output().await?;
        return Ok(Err(String::from_utf8_lossy(&out.stderr).trim().to_string()));
    }
    if let Some(mut err) = child.stderr.take() {
        tokio::spawn(async move { tokio::io::copy(&mut err, &mut tokio::io::sink()).await });
    }
    let pid = child.id().unwrap_or(0);
    x.update(|s| {
        s.running = true;
        s.pid = pid;
    });
    Ok(Ok(Running {
        child,
        master: None,
        stdin: false,
    }))
}

/// A started `berth exec` and its ends.
struct Running {
    child: tokio::process::Child,
    /// With a terminal: its master side, for both directions.
    master: Option<Arc<OwnedFd>>,
    stdin: bool,
}

fn spawn(x: &Arc<Exec>, setup: &crate::Setup) -> std::io::Result<Running> {
    let c = &x.config;
    let mut cmd = x.command(setup, false);
    let master = match c.tty {
        true => {
            let master = berth_sys::pty::open_master(Path::new("/dev/ptmx"))?;
            let peer = berth_sys::pty::open_peer(master.as_fd())?;
            cmd.stdin(Stdio::from(peer.try_clone()?))
                .stdout(Stdio::from(peer.try_clone()?))
                .stderr(Stdio::from(peer));
            // SAFETY: between fork and exec only async-signal-safe calls: setsid and the
            // TIOCSCTTY ioctl on fd 0, the terminal just made the child's stdin.
            unsafe {
                cmd.pre_exec(|| {
                    if libc::setsid() < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    if libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            Some(Arc::new(master))
        }
        false => {
            cmd.stdin(match c.attach_stdin {
                true => Stdio::piped(),
                false => Stdio::null(),
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
            None
        }
    };
    let child = cmd.spawn()?;
    let pid = child.id().unwrap_or(0);
    x.update(|s| {
        s.running = true;
        s.attached = true;
        s.pid = pid;
        s.master = master.clone();
    });
    Ok(Running {
        child,
        master,
        stdin: c.attach_stdin,
    })
}

impl Running {
    /// Joins the process to the client until it ends, and records its exit status (128 +
    /// the signal that killed it) before the client's stream ends: the client asks for it
    /// next.
    async fn relay<C>(mut self, client: Option<C>, x: &Exec)
    where
        C: AsyncRead + AsyncWrite + Send + 'static,
    {
        let mut to_client = None;
        if let Some(client) = client {
            let (from_client, mut writer) = tokio::io::split(client);
            let outcome = match self.master.clone() {
                Some(m) => self.relay_terminal(m, from_client, &mut writer).await,
                None => self.relay_pipes(from_client, &mut writer).await,
            };
            if let Err(e) = outcome {
                tracing::debug!("exec relay: {e}");
            }
            to_client = Some(writer);
        } else {
            // No one to read its output: it must not block on a full pipe.
            drop(self.child.stdout.take());
            drop(self.child.stderr.take());
        }
        let code = match self.child.wait().await {
            Ok(s) => s
                .code()
                .or_else(|| std::os::unix::process::ExitStatusExt::signal(&s).map(|n| 128 + n))
                .unwrap_or(-1),
            Err(_) => -1,
        };
        x.update(|s| {
            s.running = false;
            s.exit_code = Some(code);
            s.master = None;
            s.ended_at = Some(std::time::Instant::now());
        });
        x.ended.send_replace(true);
        if let Some(mut w) = to_client {
            let _ = w.shutdown().await;
        }
    }

    async fn relay_terminal<R, W>(
        &mut self,
        master: Arc<OwnedFd>,
        mut from_client: R,
        to_client: &mut W,
    ) -> std::io::Result<()>
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin,
    {
        let reader = tokio::fs::File::from_std(std::fs::File::from(master.try_clone()?));
        let mut writer = tokio::fs::File::from_std(std::fs::File::from(master.try_clone()?));
        let input = tokio::spawn(async move {
            let mut buf = vec![0u8; 8192];
            while let Ok(n) = from_client.read(&mut buf).await {
                if n == 0 || writer.write_all(&buf[..n]).await.is_err() {
                    break;
                }
                let _ = writer.flush().await;
            }
        });
        let mut reader = reader;
        let mut buf = vec![0u8; 32 * 1024];
        // The master reads EIO once the last process holding the terminal ends.
        while let Ok(n) = reader.read(&mut buf).await {
            if n == 0 {
                break;
            }
            if to_client.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        input.abort();
        to_client.shutdown().await
    }

    async fn relay_pipes<R, W>(
        &mut self,
        mut from_client: R,
        mut to_client: W,
    ) -> std::io::Result<()>
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin,
    {
        let (tx, mut rx) = mpsc::channel::<Bytes>(16);
        let mut pumps = Vec::new();
        for (kind, out) in [
            (
                1u8,
                self.child
                    .stdout
                    .take()
                    .map(|o| Box::new(o) as Box<dyn AsyncRead + Unpin + Send>),
            ),
            (
                2u8,
                self.child
                    .stderr
                    .take()
                    .map(|o| Box::new(o) as Box<dyn AsyncRead + Unpin + Send>),
            ),
        ] {
            let Some(mut out) = out else { continue };
            let tx = tx.clone();
            pumps.push(tokio::spawn(async move {
                let mut buf = vec![0u8; 32 * 1024];
                while let Ok(n) = out.read(&mut buf).await {
                    if n == 0 || tx.send(body::frame(kind, &buf[..n])).await.is_err() {
                        break;
                    }
                }
            }));
        }
        drop(tx);
        let stdin = self.child.stdin.take().filter(|_| self.stdin);
        let input = tokio::spawn(async move {
            let Some(mut stdin) = stdin else { return };
            let mut buf = vec![0u8; 32 * 1024];
            while let Ok(n) = from_client.read(&mut buf).await {
                if n == 0 || stdin.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
            // Dropping stdin closes it: the program sees the end of its input.
        });
        while let Some(chunk) = rx.recv().await {
            if to_client.write_all(&chunk).await.is_err() {
                break;
            }
        }
        input.abort();
        for p in pumps {
            p.abort();
        }
        Ok(())
    }
}
