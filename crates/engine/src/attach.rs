//! `attach`: a detached container's monitor serves a unix socket, `containers/<id>/attach.sock`,
//! that clients connect to for the container's live output and to write to its stdin (kept
//! open with `-i`, as `docker run -di`). Output goes out as docker streams it: raw bytes for
//! a container with a terminal, else frames of an 8-byte header (the stream: 1 stdout,
//! 2 stderr; three zero bytes; the length, big-endian) and the data. A client that cannot
//! keep up loses its connection; the container never waits for a client. Clients send
//! frames of the same shape: input for the container's stdin, or a new size for its
//! terminal.

use crate::logging::Stream;
use crate::record::State;
use crate::{Engine, Error};
use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The socket's name in the container's directory.
const SOCKET: &str = "attach.sock";

/// The socket's address: through the directory's fd, since a container directory's path can
/// be longer than a socket address takes.
fn address(dir: &File) -> PathBuf {
    berth_sys::fs::fd_path(dir.as_raw_fd()).join(SOCKET)
}

/// A client's frame kinds: bytes for the container's stdin; a terminal size (rows, then
/// columns, each 16 bits big-endian); the end of the client's input, which closes the
/// container's stdin (`echo hi | docker run -i IMAGE cat` ends).
const INPUT: u8 = 0;
const RESIZE: u8 = 4;
const CLOSE_STDIN: u8 = 5;

/// The largest frame a client may send; a bigger length is not a client of ours.
const MAX_FRAME: usize = 64 * 1024;

/// The frame header: kind, three zero bytes, the data's length big-endian.
fn header(kind: u8, len: usize) -> [u8; 8] {
    let l = (len as u32).to_be_bytes();
    [kind, 0, 0, 0, l[0], l[1], l[2], l[3]]
}

/// A connected client and what it sent that does not make a whole frame yet.
struct Client {
    stream: UnixStream,
    partial: Vec<u8>,
}

/// What a client asked for, frame by frame.
#[derive(Debug, PartialEq, Eq)]
enum Request<'a> {
    Input(&'a [u8]),
    Resize(u16, u16),
    CloseStdin,
}

/// Takes the whole frames off the front of `buf`; `Err` for a stream that is not ours (a
/// frame too long, an unknown kind).
fn take_requests(buf: &mut Vec<u8>, mut each: impl FnMut(Request<'_>)) -> Result<(), ()> {
    let mut at = 0;
    while buf.len() - at >= 8 {
        let h = &buf[at..at + 8];
        let len = u32::from_be_bytes([h[4], h[5], h[6], h[7]]) as usize;
        if len > MAX_FRAME {
            return Err(());
        }
        let Some(data) = buf.get(at + 8..at + 8 + len) else {
            break;
        };
        match (h[0], data) {
            (INPUT, _) => each(Request::Input(data)),
            (CLOSE_STDIN, []) => each(Request::CloseStdin),
            (RESIZE, [r0, r1, c0, c1]) => each(Request::Resize(
                u16::from_be_bytes([*r0, *r1]),
                u16::from_be_bytes([*c0, *c1]),
            )),
            _ => return Err(()),
        }
        at += 8 + len;
    }
    buf.drain(..at);
    Ok(())
}

/// The frame that carries `data` to the container's stdin.
pub fn input_frame(data: &[u8]) -> Vec<u8> {
    let mut frame = header(INPUT, data.len()).to_vec();
    frame.extend_from_slice(data);
    frame
}

/// The frame that closes the container's stdin.
pub fn close_stdin_frame() -> [u8; 8] {
    header(CLOSE_STDIN, 0)
}

/// The monitor's side.
pub(crate) struct AttachServer {
    /// The container's directory, open while the socket's address goes through it.
    dir: File,
    listener: UnixListener,
    clients: Vec<Client>,
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
            .chain(self.clients.iter().map(|c| c.stream.as_fd()))
            .collect()
    }

    /// `fds()[i]` is readable: a new client, or a client's frames (or its end). Returns the
    /// last terminal size the client asked for.
    pub(crate) fn ready(&mut self, i: usize) -> Option<(u16, u16)> {
        if i == 0 {
            self.accept();
            return None;
        }
        let client = self.clients.get_mut(i - 1)?;
        let mut buf = [0u8; 8192];
        let n = match client.stream.read(&mut buf) {
            Ok(0) | Err(_) => {
                self.clients.remove(i - 1);
                return None;
            }
            Ok(n) => n,
        };
        client.partial.extend_from_slice(&buf[..n]);
        let (stdin, mut size) = (&mut self.stdin, None);
        let taken = take_requests(&mut client.partial, |request| match request {
            Request::Input(data) => {
                if let Some(stdin) = stdin {
                    // A container that does not read its stdin fills the pipe: input is
                    // dropped rather than the monitor blocked.
                    let _ = berth_sys::fs::write_all(stdin.as_fd(), data);
                }
            }
            Request::Resize(rows, cols) => size = Some((rows, cols)),
            Request::CloseStdin => *stdin = None,
        });
        if taken.is_err() {
            self.clients.remove(i - 1);
        }
        size
    }

    fn accept(&mut self) {
        while let Ok((stream, _)) = self.listener.accept() {
            if stream.set_nonblocking(true).is_ok() {
                self.clients.push(Client {
                    stream,
                    partial: Vec::new(),
                });
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
        self.clients
            .retain_mut(|c| c.stream.write_all(&frame).is_ok());
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
    /// The container's output, framed unless it has a terminal ([`read_frame`]).
    pub stream: UnixStream,
    /// Keeps the socket's address valid while connecting.
    _dir: File,
}

impl Attached {
    /// The way to the container's stdin and terminal size, for any number of threads.
    pub fn input(&self) -> std::io::Result<Input> {
        Ok(Input(Arc::new(Mutex::new(self.stream.try_clone()?))))
    }
}

/// Sends a client's requests to the monitor, one whole frame at a time.
#[derive(Clone)]
pub struct Input(Arc<Mutex<UnixStream>>);

impl Input {
    /// Bytes for the container's stdin.
    pub fn send(&self, data: &[u8]) -> std::io::Result<()> {
        self.write(&input_frame(data))
    }

    /// Closes the container's stdin: the client has no more input.
    pub fn close_stdin(&self) -> std::io::Result<()> {
        self.write(&close_stdin_frame())
    }

    /// Gives the container's terminal `rows` and `cols`.
    pub fn resize(&self, rows: u16, cols: u16) -> std::io::Result<()> {
        let mut frame = header(RESIZE, 4).to_vec();
        frame.extend_from_slice(&rows.to_be_bytes());
        frame.extend_from_slice(&cols.to_be_bytes());
        self.write(&frame)
    }

    /// Ends the connection both ways (a detach).
    pub fn hang_up(&self) -> std::io::Result<()> {
        self.lock()?.shutdown(std::net::Shutdown::Both)
    }

    fn write(&self, frame: &[u8]) -> std::io::Result<()> {
        self.lock()?.write_all(frame)
    }

    fn lock(&self) -> std::io::Result<std::sync::MutexGuard<'_, UnixStream>> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("attach input: a writer panicked"))
    }
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

/// The key sequence that leaves an attached terminal with the container running, in docker's
/// `--detach-keys` syntax (`ctrl-p,ctrl-q`, the clients' default); empty turns detaching off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DetachKeys {
    keys: Vec<u8>,
    /// How many of `keys` the input has matched so far, held back from the container.
    matched: usize,
}

/// What input means once detach keys are looked for.
#[derive(Debug, PartialEq, Eq)]
pub enum Keyed {
    /// Bytes for the container (a held-back partial match that did not go on is among them).
    Pass(Vec<u8>),
    /// The keys were typed; what came before them still goes to the container.
    Detach(Vec<u8>),
}

impl DetachKeys {
    /// Reads docker's syntax: comma-separated keys, each one character or `ctrl-X` with X a
    /// letter or one of `@ [ \ ] ^ _`.
    pub fn parse(spec: &str) -> Result<Self, crate::options::OptionsError> {
        let bad = |why: &str| crate::options::bad("--detach-keys", spec, why);
        let mut keys = DetachKeys::off();
        for key in spec.split(',').filter(|_| !spec.is_empty()) {
            let byte = match key.strip_prefix("ctrl-") {
                Some(c) => match c.as_bytes() {
                    [b @ (b'a'..=b'z' | b'@' | b'[' | b'\\' | b']' | b'^' | b'_')] => b & 0x1f,
                    _ => {
                        return Err(bad(&format!(
                            "{key:?} is not ctrl- and one of a-z @ [ \\ ] ^ _"
                        )))
                    }
                },
                None => match key.as_bytes() {
                    [b] if b.is_ascii() => *b,
                    _ => return Err(bad(&format!("{key:?} is not one character"))),
                },
            };
            keys.keys.push(byte);
        }
        Ok(keys)
    }

    /// No keys: everything is input (a container without a terminal).
    pub fn off() -> Self {
        DetachKeys {
            keys: Vec::new(),
            matched: 0,
        }
    }

    /// Looks for the keys in the next chunk of input.
    pub fn scan(&mut self, input: &[u8]) -> Keyed {
        let mut out = Vec::with_capacity(input.len());
        for &b in input {
            if self.keys.is_empty() {
                out.push(b);
                continue;
            }
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return Keyed::Detach(out);
                }
                continue;
            }
            // A partial match that goes no further was input after all; the byte may begin
            // a new match.
            out.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            match b == self.keys[0] && self.keys.len() > 1 {
                true => self.matched = 1,
                false => out.push(b),
            }
        }
        Keyed::Pass(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_parse_as_docker_writes_them() {
        assert_eq!(
            DetachKeys::parse("ctrl-p,ctrl-q").unwrap(),
            DetachKeys {
                keys: vec![0x10, 0x11],
                matched: 0
            }
        );
        assert_eq!(DetachKeys::parse("ctrl-a,x").unwrap().keys, [1, b'x']);
        assert_eq!(DetachKeys::parse("ctrl-@,ctrl-_").unwrap().keys, [0, 31]);
        assert!(DetachKeys::parse("").unwrap().keys.is_empty());
        for bad in ["ctrl-", "ctrl-1", "ctrl-ab", "xy", "a,,b", "é"] {
            let e = DetachKeys::parse(bad).unwrap_err().to_string();
            assert!(e.contains("--detach-keys"), "{bad}: {e}");
        }
    }

    #[test]
    fn detach_keys_are_found_across_chunks_and_partial_matches_pass() {
        let mut k = DetachKeys::parse("ctrl-p,ctrl-q").unwrap();
        assert_eq!(k.scan(b"ab\x10"), Keyed::Pass(b"ab".to_vec()));
        assert_eq!(k.scan(b"\x11rest"), Keyed::Detach(Vec::new()));
        // ctrl-p then something else: both go to the container.
        assert_eq!(k.scan(b"\x10z"), Keyed::Pass(b"\x10z".to_vec()));
        assert_eq!(k.scan(b"\x10\x10\x11"), Keyed::Detach(b"\x10".to_vec()));
        let mut off = DetachKeys::parse("").unwrap();
        assert_eq!(off.scan(b"\x10\x11"), Keyed::Pass(b"\x10\x11".to_vec()));
        let mut one = DetachKeys::parse("ctrl-x").unwrap();
        assert_eq!(one.scan(b"a\x18b"), Keyed::Detach(b"a".to_vec()));
    }

    #[test]
    fn client_frames_are_taken_whole_and_strangers_refused() {
        let mut buf = header(INPUT, 3).to_vec();
        buf.extend_from_slice(b"abc");
        buf.extend_from_slice(&header(RESIZE, 4));
        buf.extend_from_slice(&[0, 40, 0, 120]);
        buf.extend_from_slice(&close_stdin_frame());
        buf.extend_from_slice(&header(INPUT, 5)[..6]);
        let mut got = Vec::new();
        take_requests(&mut buf, |r| {
            got.push(match r {
                Request::Input(d) => format!("in {}", String::from_utf8_lossy(d)),
                Request::Resize(r, c) => format!("size {r}x{c}"),
                Request::CloseStdin => "eof".into(),
            })
        })
        .unwrap();
        assert_eq!(got, ["in abc", "size 40x120", "eof"]);
        assert_eq!(buf.len(), 6, "the partial frame waits for the rest");
        let mut stranger = b"GET / HTTP/1.1\r\n".to_vec();
        assert!(take_requests(&mut stranger, |_| {}).is_err());
    }
}
