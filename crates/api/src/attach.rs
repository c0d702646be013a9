//! `POST /containers/{id}/attach`: the HTTP connection is taken over (`101 UPGRADED`, as
//! dockerd answers `Upgrade: tcp`) and joined to the container's attach socket, which its
//! monitor serves: its output goes to the client as the monitor frames it (docker's own
//! frames, or raw bytes with a terminal), the client's bytes go to its stdin. docker's `run`
//! attaches to a container it has only created, then starts it: such an attach waits here,
//! in memory, for the start ([`Waiting`]), which hands it a connection made before the
//! program runs, so no output is lost. With `logs=1` the container's past output comes
//! first; with `stream=0` that is all.

use crate::body::{self, Reply};
use crate::error::ApiError;
use crate::query::Query;
use crate::Service;
use berth_engine::attach::{close_stdin_frame, input_frame, Attached};
use berth_engine::logs::LogsOptions;
use berth_engine::record::State;
use http::Request;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::oneshot;

/// Attaches waiting for their container's start, by container id.
#[derive(Default)]
pub struct Waiting(Mutex<HashMap<String, Vec<oneshot::Sender<Attached>>>>);

impl Waiting {
    fn add(&self, id: &str) -> oneshot::Receiver<Attached> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut m) = self.0.lock() {
            let list = m.entry(id.to_string()).or_default();
            // Attaches whose clients went away are dropped here, not kept forever.
            list.retain(|w| !w.is_closed());
            list.push(tx);
        }
        rx
    }

    /// The attaches waiting for container `id`, still connected, in the order they came.
    pub(crate) fn take(&self, id: &str) -> Vec<oneshot::Sender<Attached>> {
        let list = self.0.lock().ok().and_then(|mut m| m.remove(id));
        list.unwrap_or_default()
            .into_iter()
            .filter(|w| !w.is_closed())
            .collect()
    }
}

/// What the client asked to see and send.
#[derive(Clone, Copy)]
struct Streams {
    stdin: bool,
    stdout: bool,
    stderr: bool,
}

impl Service {
    pub(crate) async fn attach(
        self: Arc<Self>,
        id: &str,
        q: Query,
        mut req: Request<Incoming>,
    ) -> Result<Reply, ApiError> {
        let streams = Streams {
            stdin: q.flag("stdin"),
            stdout: q.flag("stdout"),
            stderr: q.flag("stderr"),
        };
        let upgrade = req
            .headers()
            .get(http::header::UPGRADE)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"tcp"));
        if !upgrade {
            return Err(ApiError::bad_request(
                "attach: the connection must ask for Upgrade: tcp (docker's hijack)",
            ));
        }
        let what = id.to_string();
        let (id, tty, state) = self
            .blocking(move |e, _| {
                let r = e.container(&what)?;
                Ok((r.id, r.settings.tty, r.state))
            })
            .await?;
        // logs=1: what the container wrote so far comes first (read before the live output
        // is joined: what it writes in between is in neither, as with dockerd).
        let past = match q.flag("logs") {
            true => {
                let id = id.clone();
                let asked = (streams.stdout, streams.stderr);
                self.blocking(move |e, _| {
                    let mut chunks = Vec::new();
                    e.logs(&id, &LogsOptions::default(), &mut |entry| {
                        chunks.extend(crate::containers::log_chunk(entry, asked, false, tty));
                        Ok(())
                    })?;
                    Ok(chunks)
                })
                .await?
            }
            false => Vec::new(),
        };
        // stream=1 (docker's clients always send it): a running container is joined now;
        // any other waits for its start.
        let source = match (q.flag("stream"), state) {
            (false, _) => None,
            (true, State::Running) => {
                let id = id.clone();
                Some(Source::Now(
                    self.blocking(move |e, _| Ok(e.attach(&id)?)).await?,
                ))
            }
            (true, _) => Some(Source::AtStart(self.waiting.add(&id))),
        };
        let on_upgrade = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            let up = match on_upgrade.await {
                Ok(up) => up,
                Err(e) => return tracing::debug!("attach {id}: upgrade: {e}"),
            };
            let outcome = match past.is_empty() {
                true => relay(TokioIo::new(up), &past, source, streams).await,
                false => match up.downcast::<TokioIo<tokio::net::UnixStream>>() {
                    // On a unix socket: the past output only once the client has read the
                    // 101 answer. Clients that read the answer through a buffer and the
                    // rest from the socket itself (docker-py) lose what came with it.
                    Ok(parts) => {
                        let stream = parts.io.into_inner();
                        answer_read(&stream).await;
                        let (r, w) = tokio::io::split(stream);
                        let r = std::io::Cursor::new(parts.read_buf).chain(r);
                        relay(tokio::io::join(r, w), &past, source, streams).await
                    }
                    Err(up) => relay(TokioIo::new(up), &past, source, streams).await,
                },
            };
            if let Err(e) = outcome {
                tracing::debug!("attach {id}: {e}");
            }
        });
        Ok(body::upgraded(tty))
    }
}

enum Source {
    Now(Attached),
    AtStart(oneshot::Receiver<Attached>),
}

/// Waits (up to a second) until the client has read everything sent on `s`.
async fn answer_read(s: &tokio::net::UnixStream) {
    use std::os::fd::AsFd;
    for _ in 0..1000 {
        match berth_sys::socket::unread_by_peer(s.as_fd()) {
            Ok(0) | Err(_) => return,
            Ok(_) => tokio::time::sleep(std::time::Duration::from_millis(1)).await,
        }
    }
}

/// Sends the client the container's past output, then (with a source) joins it to the
/// live one.
async fn relay<C>(
    mut client: C,
    past: &[bytes::Bytes],
    source: Option<Source>,
    streams: Streams,
) -> std::io::Result<()>
where
    C: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    for chunk in past {
        client.write_all(chunk).await?;
    }
    let attached = match source {
        None => return client.shutdown().await,
        Some(Source::Now(a)) => a,
        Some(Source::AtStart(rx)) => match rx.await {
            Ok(a) => a,
            Err(_) => return Ok(()),
        },
    };
    join(client, attached, streams).await
}

/// Joins the client's connection to the container's until the container's output ends
/// (it exited) or the client goes.
async fn join<C>(client: C, a: Attached, streams: Streams) -> std::io::Result<()>
where
    C: AsyncRead + AsyncWrite + Send + 'static,
{
    let (tty, forward_input) = (a.tty, streams.stdin && a.stdin);
    a.stream.set_nonblocking(true)?;
    let monitor = tokio::net::UnixStream::from_std(a.stream)?;
    let (mut from_monitor, mut to_monitor) = monitor.into_split();
    let (mut from_client, mut to_client) = tokio::io::split(client);
    let input = tokio::spawn(async move {
        if forward_input {
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                match from_client.read(&mut buf).await {
                    Ok(0) | Err(_) => {
                        let _ = to_monitor.write_all(&close_stdin_frame()).await;
                        break;
                    }
                    Ok(n) => {
                        if to_monitor.write_all(&input_frame(&buf[..n])).await.is_err() {
                            break;
                        }
                    }
                }
            }
        }
        // Our writing half stays open until the output ends (this task is aborted then):
        // the monitor drops a client whose side closes.
        std::future::pending::<()>().await;
        drop(to_monitor);
    });
    // Until the container's output ends (it exited) or the client cannot take more: the
    // client's end of input is no sign (docker's client closes its writing half at once).
    let output = async {
        let mut filter = FrameFilter::new(tty, streams);
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            let n = from_monitor.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            let out = filter.pass(&buf[..n]);
            if !out.is_empty() {
                to_client.write_all(&out).await?;
            }
        }
        to_client.shutdown().await
    };
    let result = output.await;
    input.abort();
    result
}

/// Keeps the streams the client asked for: whole frames of those streams pass, the others
/// are dropped (with a terminal there is one stream, passed when stdout or stderr is asked).
struct FrameFilter {
    tty: bool,
    streams: Streams,
    partial: Vec<u8>,
}

impl FrameFilter {
    fn new(tty: bool, streams: Streams) -> Self {
        FrameFilter {
            tty,
            streams,
            partial: Vec::new(),
        }
    }

    fn pass(&mut self, data: &[u8]) -> Vec<u8> {
        if self.tty {
            return match self.streams.stdout || self.streams.stderr {
                true => data.to_vec(),
                false => Vec::new(),
            };
        }
        if self.streams.stdout && self.streams.stderr {
            return data.to_vec();
        }
        self.partial.extend_from_slice(data);
        let mut out = Vec::new();
        let mut at = 0;
        while self.partial.len() - at >= 8 {
            let h = &self.partial[at..at + 8];
            let len = u32::from_be_bytes([h[4], h[5], h[6], h[7]]) as usize;
            if self.partial.len() - at < 8 + len {
                break;
            }
            let keep = match h[0] {
                2 => self.streams.stderr,
                _ => self.streams.stdout,
            };
            if keep {
                out.extend_from_slice(&self.partial[at..at + 8 + len]);
            }
            at += 8 + len;
        }
        self.partial.drain(..at);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::frame;

    #[test]
    fn only_the_asked_streams_pass_whole() {
        let only_out = Streams {
            stdin: false,
            stdout: true,
            stderr: false,
        };
        let mut f = FrameFilter::new(false, only_out);
        let mut data = frame(1, b"out\n").to_vec();
        data.extend_from_slice(&frame(2, b"err\n"));
        data.extend_from_slice(&frame(1, b"more\n"));
        let (a, b) = data.split_at(13);
        let mut got = f.pass(a);
        got.extend(f.pass(b));
        let mut want = frame(1, b"out\n").to_vec();
        want.extend_from_slice(&frame(1, b"more\n"));
        assert_eq!(got, want);
        let mut raw = FrameFilter::new(true, only_out);
        assert_eq!(raw.pass(b"abc"), b"abc");
    }
}
