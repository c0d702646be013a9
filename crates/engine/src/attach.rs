//! `attach`: a detached container's monitor serves a unix socket, `containers/<id>/attach.sock`,
//! that clients connect to for the container's live output and to write to its stdin (kept
//! open with `-i`, as `docker run -di`). Output goes out as docker streams it: raw bytes for
//! a container with a terminal, else frames of an 8-byte header (the stream: 1 stdout,
//! 2 stderr; three zero bytes; the length, big-endian) and the data. A client that cannot
//! keep up loses its connection; the container never waits for a client.

use crate::logging::Stream;
use crate::record::State;
use crate::{Engine, Error};
use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The socket's name in the container's directory.
const SOCKET: &str = "attach.sock";

/// The socket's address: through the directory's fd, since a container directory's path can
/// be longer than a socket address takes.
fn address(dir: &File) -> PathBuf {
    berth_sys::fs::fd_path(dir.as_raw_fd()).join(SOCKET)
}

/// The monitor's side.
pub(crate) struct AttachServer {
    /// The container's directory, open while the socket's address goes through it.
    dir: File,
    listener: UnixListener,
    clients: Vec<UnixStream>,
    /// The write end of the container's stdin, with `-i`.
    stdin: Option<OwnedFd>,
    tty: bool,
}

impl AttachServer {
    /// Serves the socket in container directory `dir` (one left by a killed monitor is
    /// replaced); `stdin` is the container's stdin to pass clients' input to.
    pub(crate) fn open(dir: &Path, tty: bool, stdin: Option<OwnedFd>) -> std::io::Result<Self> {
        let dir = File::open(dir)?;
        let path = address(&dir);
        // Bound and listening under another name first: a client that finds the socket
        // between bind and listen would be refused.
        let early = path.with_extension("new");
        match std::fs::remove_file(&early) {
            Err(e) if e.kind() != ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let listener = UnixListener::bind(&early)?;
        listener.set_nonblocking(true)?;
        std::fs::rename(&early, &path)?;
        Ok(AttachServer {
            dir,
            listener,
            clients: Vec::new(),
            stdin,
            tty,
        })
    }

    /// Waits at most `limit` for a first client (`start -a` attaches before the start).
    pub(crate) fn wait_for_client(&mut self, limit: Duration) {
        let ready = berth_sys::poll::readable(&[Some(self.listener.as_fd())], Some(limit));
        if ready.is_ok_and(|r| r[0]) {
            self.accept();
        }
    }

    /// The listening socket, then every client.
    pub(crate) fn fds(&self) -> Vec<BorrowedFd<'_>> {
        std::iter::once(self.listener.as_fd())
            .chain(self.clients.iter().map(|c| c.as_fd()))
            .collect()
    }

    /// `fds()[i]` is readable: a new client, or a client's input (or its end).
    pub(crate) fn ready(&mut self, i: usize) {
        if i == 0 {
            return self.accept();
        }
        let mut buf = [0u8; 8192];
        let read = self.clients.get_mut(i - 1).map(|c| c.read(&mut buf));
        match read {
            Some(Ok(0)) | Some(Err(_)) => {
                self.clients.remove(i - 1);
            }
            Some(Ok(n)) => {
                if let Some(stdin) = &self.stdin {
                    // A container that does not read its stdin fills the pipe: input is
                    // dropped rather than the monitor blocked.
                    let _ = berth_sys::fs::write_all(stdin.as_fd(), &buf[..n]);
                }
            }
            None => {}
        }
    }

    fn accept(&mut self) {
        while let Ok((c, _)) = self.listener.accept() {
            if c.set_nonblocking(true).is_ok() {
                self.clients.push(c);
            }
        }
    }

    /// Sends what the container wrote to every client.
    pub(crate) fn send(&mut self, stream: Stream, data: &[u8]) {
        if self.clients.is_empty() {
            return;
        }
        let mut frame = Vec::with_capacity(data.len() + 8);
        if !self.tty {
            let kind = match stream {
                Stream::Stdout => 1,
                Stream::Stderr => 2,
            };
            frame.extend_from_slice(&[kind, 0, 0, 0]);
            frame.extend_from_slice(&(data.len() as u32).to_be_bytes());
        }
        frame.extend_from_slice(data);
        self.clients.retain_mut(|c| c.write_all(&frame).is_ok());
    }
}

impl Drop for AttachServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(address(&self.dir));
    }
}

/// A client's connection to a running container.
pub struct Attached {
    pub id: String,
    pub name: String,
    /// The container has a terminal: raw bytes, no frames.
    pub tty: bool,
    /// Its stdin is open for input (`-i`).
    pub stdin: bool,
    pub stream: UnixStream,
    /// Keeps the socket's address valid while connecting.
    _dir: File,
}

impl Engine {
    /// Connects to running container `what`'s attach socket.
    pub fn attach(&self, what: &str) -> Result<Attached, Error> {
        let r = self.settled(what)?;
        if r.state != State::Running {
            return Err(Error::WrongState {
                name: r.name,
                state: r.state.to_string(),
                action: "attach to it",
            });
        }
        self.connect(&r.id, Instant::now())
    }

    /// Connects to container `id`'s attach socket, retrying until `since` + 10 s while its
    /// monitor is yet to make it.
    pub(crate) fn connect(&self, id: &str, since: Instant) -> Result<Attached, Error> {
        let r = self
            .containers
            .load(id)?
            .ok_or_else(|| Error::NoSuchContainer(id.to_string()))?;
        let path = self.containers.dir(id);
        let dir = File::open(&path).map_err(Error::path(&path))?;
        loop {
            match UnixStream::connect(address(&dir)) {
                Ok(stream) => {
                    return Ok(Attached {
                        id: r.id.clone(),
                        name: r.name.clone(),
                        tty: r.settings.tty,
                        stdin: r.settings.interactive,
                        stream,
                        _dir: dir,
                    })
                }
                Err(e)
                    if since.elapsed() < Duration::from_secs(10)
                        && e.kind() == ErrorKind::NotFound =>
                {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => {
                    return Err(Error::Failed {
                        name: r.name,
                        reason: format!("attach: {e} (its monitor serves no attach socket)"),
                    })
                }
            }
        }
    }
}

/// Reads one frame of a non-terminal attach stream: the stream and the data; `None` at the
/// end.
pub fn read_frame(r: &mut impl Read) -> std::io::Result<Option<(Stream, Vec<u8>)>> {
    let mut header = [0u8; 8];
    match r.read_exact(&mut header) {
        Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(None),
        other => other?,
    }
    let stream = match header[0] {
        2 => Stream::Stderr,
        _ => Stream::Stdout,
    };
    let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
    let mut data = vec![0u8; len];
    r.read_exact(&mut data)?;
    Ok(Some((stream, data)))
}
