//! A rootless container's network through slirp4netns, for hosts without pasta (Ubuntu
//! 22.04 and older have no passt package): a tap interface in the container's namespace
//! (10.0.2.100/24, gateway 10.0.2.2, name server 10.0.2.3) whose traffic slirp4netns carries
//! through the caller's sockets, NATed: a published port shows the container slirp4netns's
//! address as the client's, not the client's own (pasta's advantage).
//!
//! slirp4netns gets the namespace as an inherited fd, as pasta does, and stays in the
//! foreground: it is started in a session of its own and left running, its pid written next
//! to the container's network record; the teardown ends it. Published ports are asked of it
//! over its API socket once it reports the namespace configured.

use crate::ports::{Mapping, Proto};
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The name server slirp4netns answers at (it forwards to the host's resolvers, loopback
/// stubs included).
pub const DNS: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 2, 3));
/// The container's address on slirp4netns's network.
const GUEST: &str = "10.0.2.100";

#[derive(Debug, thiserror::Error)]
pub enum Slirp4netnsError {
    #[error("slirp4netns: {0}")]
    Failed(String),
    #[error("slirp4netns forwards tcp and udp only: cannot publish {0}")]
    Proto(String),
}

/// The files of the slirp4netns serving the container whose network record is `record`:
/// its pid, its API socket (relative to the record's directory: a socket path must be
/// short) and its log.
fn files(record: &Path) -> (PathBuf, &'static str, PathBuf) {
    (
        record.with_file_name("slirp4netns.pid"),
        "slirp4netns.sock",
        record.with_file_name("slirp4netns.log"),
    )
}

/// The API request that publishes `m`.
fn hostfwd(m: &Mapping) -> Result<String, Slirp4netnsError> {
    let proto = match m.proto {
        Proto::Tcp => "tcp",
        Proto::Udp => "udp",
        Proto::Sctp => return Err(Slirp4netnsError::Proto(m.published())),
    };
    let host = m.host_ip.map_or("0.0.0.0".to_string(), |ip| ip.to_string());
    Ok(serde_json::json!({
        "execute": "add_hostfwd",
        "arguments": {
            "proto": proto,
            "host_addr": host,
            "host_port": m.host_port,
            "guest_addr": GUEST,
            "guest_port": m.port,
        }
    })
    .to_string())
}

/// Starts slirp4netns for the namespace `netns` of the container whose network record is
/// `record`, with `ports` published; returns once the namespace is configured and the ports
/// forwarded. On failure nothing of it is left running.
pub fn start(
    netns: BorrowedFd<'_>,
    ports: &[Mapping],
    record: &Path,
) -> Result<(), Slirp4netnsError> {
    let requests = ports.iter().map(hostfwd).collect::<Result<Vec<_>, _>>()?;
    let (pid_file, socket, log) = files(record);
    let dir = record.parent().unwrap_or(Path::new("."));
    let fail = |what: &str, e: io::Error| Slirp4netnsError::Failed(format!("{what}: {e}"));
    let log_file = std::fs::File::create(&log).map_err(|e| fail(&log.display().to_string(), e))?;
    let (ready_r, ready_w) = io::pipe().map_err(|e| fail("pipe", e))?;
    let mut cmd = Command::new("slirp4netns");
    cmd.args([
        "--configure",
        "--mtu=65520",
        "--disable-host-loopback",
        "--netns-type=path",
        "--ready-fd=4",
        "--api-socket",
        socket,
        "/proc/self/fd/3",
        "tap0",
    ])
    .current_dir(dir)
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(log_file);
    let (ns, ready) = (netns.as_raw_fd(), ready_w.as_raw_fd());
    // SAFETY: between fork and exec only setsid, dup2 and fcntl run, all async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            // Its own session: it outlives this command and no terminal signal reaches it.
            berth_sys::process::setsid()?;
            berth_sys::fs::dup_onto(BorrowedFd::borrow_raw(ns), 3)?;
            berth_sys::fs::dup_onto(BorrowedFd::borrow_raw(ready), 4)
        });
    }
    let mut child = cmd.spawn().map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => {
            Slirp4netnsError::Failed("not installed (Debian: apt install slirp4netns)".to_string())
        }
        _ => fail("starting it", e),
    })?;
    drop(ready_w);
    if let Err(e) = std::fs::write(&pid_file, child.id().to_string()) {
        // Unrecorded, no teardown could find it.
        let _ = child.kill();
        let _ = child.wait();
        let _ = stop(record);
        return Err(fail(&pid_file.display().to_string(), e));
    }
    let configured = wait_ready(ready_r).and_then(|()| {
        let dirfd = std::fs::File::open(dir)?;
        // The socket by a short path: through the directory's fd.
        let path = format!("/proc/self/fd/{}/{socket}", dirfd.as_raw_fd());
        requests.iter().try_for_each(|r| ask(&path, r))
    });
    configured.map_err(|e| {
        let logged = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = stop(record);
        let logged = crate::usermode::one_line(&logged, String::new);
        Slirp4netnsError::Failed(if logged.is_empty() {
            e.to_string()
        } else {
            format!("{e}: {logged}")
        })
    })
}

/// How long slirp4netns may take to configure the namespace (milliseconds, as a rule).
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Waits for slirp4netns's "configured" byte; its end without one is its failure.
fn wait_ready(mut ready: io::PipeReader) -> io::Result<()> {
    use std::os::fd::AsFd;
    let answered = berth_sys::poll::readable(&[Some(ready.as_fd())], Some(READY_TIMEOUT))?;
    if !answered.first().copied().unwrap_or(false) {
        return Err(io::Error::other(format!(
            "no word from it within {READY_TIMEOUT:?}"
        )));
    }
    let mut b = [0u8; 1];
    match ready.read(&mut b)? {
        1 => Ok(()),
        _ => Err(io::Error::other(
            "it exited before configuring the namespace",
        )),
    }
}

/// Sends one API request; slirp4netns answers `{"return": ...}` or `{"error": ...}`.
fn ask(socket: &str, request: &str) -> io::Result<()> {
    let mut s = UnixStream::connect(socket)?;
    s.write_all(request.as_bytes())?;
    s.shutdown(std::net::Shutdown::Write)?;
    let mut answer = String::new();
    s.read_to_string(&mut answer)?;
    let v: serde_json::Value = serde_json::from_str(&answer)
        .map_err(|e| io::Error::other(format!("its API answered {answer:?}: {e}")))?;
    match v.get("error") {
        None => Ok(()),
        Some(e) => Err(io::Error::other(format!(
            "publishing a port: {}",
            e.get("desc")
                .and_then(|d| d.as_str())
                .unwrap_or(&e.to_string())
        ))),
    }
}

/// Ends the slirp4netns of the container whose network record is `record`, if it still
/// runs, and removes its files; safe to repeat.
pub fn stop(record: &Path) -> io::Result<()> {
    let (pid_file, socket, log) = files(record);
    crate::usermode::end(&pid_file, &["slirp4netns"])?;
    let dir = record.parent().unwrap_or(Path::new("."));
    for f in [dir.join(socket), log] {
        match std::fs::remove_file(&f) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_ports_become_api_requests() {
        let m = Mapping {
            proto: Proto::Udp,
            host_ip: Some("127.0.0.1".parse().unwrap()),
            host_port: 5353,
            port: 53,
        };
        let v: serde_json::Value = serde_json::from_str(&hostfwd(&m).unwrap()).unwrap();
        assert_eq!(v["execute"], "add_hostfwd");
        assert_eq!(v["arguments"]["proto"], "udp");
        assert_eq!(v["arguments"]["host_addr"], "127.0.0.1");
        assert_eq!(v["arguments"]["host_port"], 5353);
        assert_eq!(v["arguments"]["guest_addr"], GUEST);
        assert_eq!(v["arguments"]["guest_port"], 53);
        let sctp = Mapping {
            proto: Proto::Sctp,
            ..m
        };
        assert!(hostfwd(&sctp).is_err());
    }
}
