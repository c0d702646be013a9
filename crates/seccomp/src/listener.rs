//! Handing the NOTIFY listener to the seccomp agent at `listenerPath`, as the runtime-spec
//! says: one AF_UNIX SOCK_STREAM connection per container process, the container process
//! state as JSON with `fds: ["seccompFd"]`, the fd by SCM_RIGHTS in the first sendmsg, then
//! close. The container's init installs its filter after pivot_root, when the host path is
//! out of reach: it connects first ([`ListenerSocket::connect`]) and sends later.

use crate::error::{Error, Result};
use oci_spec::runtime::{ContainerProcessState, State, SECCOMP_FD_NAME};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

/// A connection to the seccomp agent, opened before the listener exists.
#[derive(Debug)]
pub struct ListenerSocket {
    stream: UnixStream,
    path: PathBuf,
}

impl ListenerSocket {
    /// Connects to the agent's socket (close-on-exec).
    pub fn connect(path: &Path) -> Result<Self> {
        let stream = UnixStream::connect(path).map_err(|source| Error::Listener {
            path: path.to_path_buf(),
            step: "connect",
            source,
        })?;
        Ok(ListenerSocket {
            stream,
            path: path.to_path_buf(),
        })
    }

    /// Sends `state` (its `fds` set to `["seccompFd"]`) with `listener` attached, then closes
    /// both. Uses only sendmsg and close, so the filter may NOTIFY anything but sendmsg.
    pub fn send(self, listener: OwnedFd, state: &ContainerProcessState) -> Result<()> {
        self.with_state(state)?.send(listener)
    }

    /// Serializes `state` (its `fds` set to `["seccompFd"]`) now, so that handing over the
    /// listener later, once the filter is in, needs nothing but sendmsg.
    pub fn with_state(self, state: &ContainerProcessState) -> Result<Handoff> {
        let mut state = state.clone();
        state.set_fds(vec![SECCOMP_FD_NAME.to_string()]);
        match serde_json::to_vec(&state) {
            Ok(json) => Ok(Handoff { agent: self, json }),
            Err(e) => Err(self.error("send", io::Error::other(e))),
        }
    }

    fn error(&self, step: &'static str, source: io::Error) -> Error {
        Error::Listener {
            path: self.path.clone(),
            step,
            source,
        }
    }
}

/// A connection to the agent with the state to send, waiting for the listener.
#[derive(Debug)]
pub struct Handoff {
    agent: ListenerSocket,
    json: Vec<u8>,
}

impl Handoff {
    /// Sends the state with `listener` attached, then closes both; only sendmsg and close.
    pub fn send(self, listener: OwnedFd) -> Result<()> {
        let err = |source| self.agent.error("send", source);
        let sock = self.agent.stream.as_raw_fd();
        let json = &self.json;
        let mut sent = sendmsg(sock, json, Some(listener.as_raw_fd())).map_err(err)?;
        // A stream may take the message in pieces; the fd went with the first one.
        while sent < json.len() {
            sent += sendmsg(sock, &json[sent..], None).map_err(err)?;
        }
        Ok(())
    }
}

/// Connects to `listener_path` and sends the listener with `state` (for a caller that can
/// still reach the path, e.g. the runtime's parent process after the init passed it the fd).
pub fn send_listener(
    listener_path: &Path,
    listener: OwnedFd,
    state: &ContainerProcessState,
) -> Result<()> {
    ListenerSocket::connect(listener_path)?.send(listener, state)
}

/// The `ociVersion` of the container process state. The runtime-spec fixes no value (its
/// examples said 0.2.0, later 1.0.2); crun, whose listener seccomp agents are written
/// against, always sends 0.2.0, and so do we, so that an agent that looks sees one value.
/// The container's own version is in `state.ociVersion`.
const PROCESS_STATE_VERSION: &str = "0.2.0";

/// The container process state for the agent: `pid` as the runtime sees it, the container's
/// state, and `listenerMetadata` as `metadata`.
pub fn process_state(state: State, pid: i32, metadata: Option<String>) -> ContainerProcessState {
    let mut out = ContainerProcessState::default();
    out.set_version(PROCESS_STATE_VERSION.to_string());
    out.set_fds(vec![SECCOMP_FD_NAME.to_string()]);
    out.set_pid(pid);
    out.set_metadata(metadata);
    out.set_state(state);
    out
}

/// One sendmsg of `data`, with `fd` as SCM_RIGHTS when given; retries EINTR; no SIGPIPE.
fn sendmsg(sock: RawFd, data: &[u8], fd: Option<RawFd>) -> io::Result<usize> {
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // Room for one cmsghdr and one int, 8-byte aligned as cmsghdr needs.
    let mut control = [0u64; 4];
    // SAFETY: msghdr is plain data; all zero is an empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if let Some(fd) = fd {
        let int = std::mem::size_of::<RawFd>() as u32;
        msg.msg_control = control.as_mut_ptr().cast();
        // SAFETY: CMSG_SPACE is arithmetic.
        msg.msg_controllen = unsafe { libc::CMSG_SPACE(int) } as usize;
        // SAFETY: `control` (32 bytes) holds CMSG_SPACE(4) = 24 bytes; the CMSG_* macros
        // compute pointers inside it.
        unsafe {
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(int) as usize;
            libc::CMSG_DATA(c).cast::<RawFd>().write_unaligned(fd);
        }
    }
    // SAFETY: `msg` points at `iov`, `data` and `control`, all alive for the call.
    berth_sys::retry_eintr(|| unsafe { libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL) })
        .map(|n| n as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_state_matches_the_spec_shape() {
        let mut st = State::default();
        st.set_id("c1".into());
        st.set_version("1.0.2".into());
        let v = serde_json::to_value(process_state(st, 42, Some("m".into()))).unwrap();
        assert_eq!(v["ociVersion"], "0.2.0");
        assert_eq!(v["state"]["ociVersion"], "1.0.2");
        assert_eq!(v["fds"], serde_json::json!(["seccompFd"]));
        assert_eq!(v["pid"], 42);
        assert_eq!(v["metadata"], "m");
        assert_eq!(v["state"]["id"], "c1");
    }

    #[test]
    fn connect_error_names_the_path() {
        let err = ListenerSocket::connect(Path::new("/nonexistent/agent.sock"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/agent.sock: connect"), "{err}");
    }
}
