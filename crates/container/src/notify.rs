//! systemd's readiness protocol (sd_notify) through a container. When the runtime runs with
//! `NOTIFY_SOCKET` set (a systemd `Type=notify` unit), the container's process cannot reach
//! that socket, so it gets one of the runtime's instead:
//! - `create` makes the directory `STATE/notify`, bind-mounts it (read-only) in the container
//!   at the path `NOTIFY_SOCKET` names (`/run/notify` when that is an abstract socket), and
//!   sets the process's `NOTIFY_SOCKET` to the socket `notify` in it (crun's layout);
//! - whoever releases the container (`start`, `run`) binds that socket and relays each
//!   datagram, as it came, to the caller's socket: `start` and `run --detach` until the
//!   container has sent `READY=1` (or its init has exited), a foreground `run` for as long as
//!   the container runs.
//!
//! No `MAINPID=` is added: the caller knows which process it started (podman reports its
//! conmon), and runc's extra datagram would be a second, conflicting answer.

use crate::Error;
use oci_spec::runtime::{MountBuilder, Spec};
use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::{Path, PathBuf};

/// The directory under the container's state directory that the container sees.
const DIR: &str = "notify";
/// The socket in it.
const SOCKET: &str = "notify";
/// Where the container sees the directory when the caller's socket has no path.
const FALLBACK_DIR: &str = "/run/notify";
/// Longest datagram relayed; sd_notify messages are a few lines.
const MAX_MESSAGE: usize = 4096;

/// The caller's socket, from `NOTIFY_SOCKET`.
enum Caller {
    /// A path, which may be longer than a socket address holds (107 bytes).
    Path(PathBuf),
    /// An abstract name, written `@name`.
    Abstract(SocketAddr),
}

fn caller() -> Option<Caller> {
    let v = std::env::var_os("NOTIFY_SOCKET")?;
    let bytes = std::os::unix::ffi::OsStrExt::as_bytes(v.as_os_str());
    match bytes.split_first() {
        Some((b'@', name)) => SocketAddr::from_abstract_name(name)
            .ok()
            .map(Caller::Abstract),
        Some((b'/', _)) => Some(Caller::Path(PathBuf::from(v))),
        _ => None,
    }
}

impl Caller {
    /// The address datagrams go to, and the directory it passes through when the path is
    /// too long for a socket address (kept open as long as the address is used).
    fn address(self) -> Result<(SocketAddr, Option<File>), Error> {
        let path = match self {
            Caller::Abstract(a) => return Ok((a, None)),
            Caller::Path(p) => p,
        };
        if let Ok(a) = SocketAddr::from_pathname(&path) {
            return Ok((a, None));
        }
        let bad = |why: String| Error::Usage(format!("NOTIFY_SOCKET {}: {why}", path.display()));
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return Err(bad("not a socket path".into()));
        };
        let dir = File::open(parent).map_err(Error::path(parent))?;
        let a = SocketAddr::from_pathname(through(&dir, name)).map_err(|e| bad(e.to_string()))?;
        Ok((a, Some(dir)))
    }
}

/// `name` in the open directory `dir`, as a path short enough for a socket address.
fn through(dir: &File, name: &OsStr) -> PathBuf {
    berth_sys::fs::fd_path(dir.as_raw_fd()).join(name)
}

/// At `create`: when the runtime has a `NOTIFY_SOCKET`, gives the container its side of the
/// relay (the directory, its mount and the process's environment).
pub(crate) fn setup(state_dir: &Path, spec: &mut Spec) -> Result<(), Error> {
    let inside = match caller() {
        None => return Ok(()),
        Some(Caller::Path(p)) => p,
        Some(Caller::Abstract(_)) => PathBuf::from(FALLBACK_DIR),
    };
    let dir = state_dir.join(DIR);
    std::fs::create_dir(&dir).map_err(Error::path(&dir))?;
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .map_err(Error::path(&dir))?;
    let mount = MountBuilder::default()
        .destination(&inside)
        .typ("bind")
        .source(&dir)
        .options(
            ["bind", "ro", "nosuid", "nodev", "noexec"]
                .map(String::from)
                .to_vec(),
        )
        .build()
        .map_err(|e| Error::Usage(format!("NOTIFY_SOCKET mount: {e}")))?;
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    mounts.push(mount);
    spec.set_mounts(Some(mounts));
    if let Some(p) = spec.process_mut() {
        let mut env = p.env().clone().unwrap_or_default();
        env.retain(|e| !e.starts_with("NOTIFY_SOCKET="));
        env.push(format!("NOTIFY_SOCKET={}", inside.join(SOCKET).display()));
        p.set_env(Some(env));
    }
    Ok(())
}

/// The runtime's end of the relay.
pub(crate) struct Relay {
    socket: UnixDatagram,
    caller: SocketAddr,
    /// The directory a long caller path is reached through.
    _caller_dir: Option<File>,
}

impl Relay {
    /// Binds the container's socket, when the container was created with one and this
    /// process has a `NOTIFY_SOCKET` to relay to. A socket a previous `start` left is replaced.
    pub fn open(state_dir: &Path) -> Result<Option<Relay>, Error> {
        let dir = state_dir.join(DIR);
        let Some(caller) = caller().filter(|_| dir.is_dir()) else {
            return Ok(None);
        };
        let (caller, caller_dir) = caller.address()?;
        let path = dir.join(SOCKET);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(Error::path(&path)(e)),
            _ => {}
        }
        // Through the directory's fd: the state path may be longer than a socket address.
        let d = File::open(&dir).map_err(Error::path(&dir))?;
        let socket =
            UnixDatagram::bind(through(&d, OsStr::new(SOCKET))).map_err(Error::path(&path))?;
        // Any user of the container may notify, as any process of a unit may.
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o777))
            .map_err(Error::path(&path))?;
        socket.set_nonblocking(true).map_err(Error::path(&path))?;
        Ok(Some(Relay {
            socket,
            caller,
            _caller_dir: caller_dir,
        }))
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }

    /// Relays every datagram waiting; true when one of them said `READY=1`.
    pub fn forward(&self) -> bool {
        let mut ready = false;
        let mut buf = [0u8; MAX_MESSAGE];
        while let Ok(n) = self.socket.recv(&mut buf) {
            let msg = &buf[..n];
            ready |= msg.split(|b| *b == b'\n').any(|l| l == b"READY=1");
            if let Err(e) = self.socket.send_to_addr(msg, &self.caller) {
                tracing::debug!("relay sd_notify message: {e}");
            }
        }
        ready
    }

    /// Relays until the container has said `READY=1` or the init behind `pidfd` has exited.
    pub fn until_ready(&self, pidfd: BorrowedFd<'_>) -> Result<(), Error> {
        loop {
            let ready = berth_sys::poll::readable(&[Some(self.socket.as_fd()), Some(pidfd)], None)
                .map_err(Error::io("poll the sd_notify socket"))?;
            if self.forward() || ready[1] {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relays_datagrams_until_ready() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join(DIR)).unwrap();
        let caller = UnixDatagram::bind(tmp.path().join("caller")).unwrap();
        let relay = Relay {
            socket: UnixDatagram::bind(tmp.path().join(DIR).join(SOCKET)).unwrap(),
            caller: SocketAddr::from_pathname(tmp.path().join("caller")).unwrap(),
            _caller_dir: None,
        };
        relay.socket.set_nonblocking(true).unwrap();
        let container = UnixDatagram::unbound().unwrap();
        let to = tmp.path().join(DIR).join(SOCKET);
        container.send_to(b"STATUS=starting", &to).unwrap();
        assert!(!relay.forward());
        container.send_to(b"STATUS=up\nREADY=1", &to).unwrap();
        assert!(relay.forward());
        let mut buf = [0u8; 64];
        let n = caller.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"STATUS=starting");
        let n = caller.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"STATUS=up\nREADY=1");
    }

    #[test]
    fn reaches_a_caller_path_longer_than_a_socket_address() {
        let tmp = tempfile::tempdir().unwrap();
        let deep = tmp.path().join("d".repeat(60)).join("e".repeat(60));
        std::fs::create_dir_all(&deep).unwrap();
        let path = deep.join("notify.sock");
        assert!(SocketAddr::from_pathname(&path).is_err());
        let d = File::open(&deep).unwrap();
        let caller = UnixDatagram::bind(through(&d, OsStr::new("notify.sock"))).unwrap();

        let (addr, dir) = Caller::Path(path).address().unwrap();
        assert!(dir.is_some());
        let me = UnixDatagram::unbound().unwrap();
        me.send_to_addr(b"READY=1", &addr).unwrap();
        let mut buf = [0u8; 16];
        let n = caller.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");

        let missing = tmp.path().join("f".repeat(120)).join("notify.sock");
        assert!(Caller::Path(missing).address().is_err());
    }
}
