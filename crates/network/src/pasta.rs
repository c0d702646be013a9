//! A rootless container's network through pasta (Debian's `passt` package): a tap interface
//! in the container's namespace whose traffic pasta carries through ordinary sockets of the
//! caller's namespace, so no privilege over the host's network is needed. Published ports
//! are sockets pasta binds there; a connection from another host reaches the container
//! with the client's own source address (pasta rebuilds the packets; no NAT).
//!
//! pasta is given the namespace as an inherited fd (`--netns /proc/self/fd/3`): it drops
//! the capabilities that would let it open another process's `/proc/PID/ns/net`. It
//! daemonizes once the namespace is configured and writes its pid to a file next to the
//! container's network record; the teardown ends it (it holds the namespace open).

use crate::ports::{Mapping, Proto};
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The name server address containers see: pasta forwards its queries to the host's first
/// resolver, which may be a loopback stub the container could not reach itself.
pub const DNS: IpAddr = IpAddr::V4(Ipv4Addr::new(169, 254, 1, 1));

#[derive(Debug, thiserror::Error)]
pub enum PastaError {
    #[error("pasta is not installed: install the passt package (or slirp4netns, the default network without pasta), or use --network none or host ({0})")]
    Missing(io::Error),
    #[error("pasta: {0}")]
    Failed(String),
    #[error("pasta forwards tcp and udp only: cannot publish {0}")]
    Proto(String),
}

/// The pid file of the pasta serving the container whose network record is `record`.
pub fn pid_file(record: &Path) -> PathBuf {
    record.with_file_name("pasta.pid")
}

/// The `-t`/`-u` arguments for `ports` (pasta's default forwards every bound port: none
/// are asked for explicitly).
pub fn port_args(ports: &[Mapping]) -> Result<Vec<String>, PastaError> {
    let mut tcp = Vec::new();
    let mut udp = Vec::new();
    for m in ports {
        let spec = match m.host_ip {
            Some(ip) => format!("{ip}/{}:{}", m.host_port, m.port),
            None => format!("{}:{}", m.host_port, m.port),
        };
        match m.proto {
            Proto::Tcp => tcp.push(spec),
            Proto::Udp => udp.push(spec),
            Proto::Sctp => return Err(PastaError::Proto(m.published())),
        }
    }
    let mut args = Vec::new();
    for (flag, specs) in [("-t", tcp), ("-u", udp)] {
        if specs.is_empty() {
            args.extend([flag.to_string(), "none".to_string()]);
        }
        for s in specs {
            args.extend([flag.to_string(), s]);
        }
    }
    // Nothing the container binds on its own loopback is forwarded from the host's.
    args.extend(["-T", "none", "-U", "none"].map(String::from));
    Ok(args)
}

/// Starts pasta for the namespace `netns` with `ports` published; returns once it has
/// configured the namespace (address, routes, loopback) and gone to the background.
pub fn start(netns: BorrowedFd<'_>, ports: &[Mapping], pid_file: &Path) -> Result<(), PastaError> {
    let mut cmd = Command::new("pasta");
    cmd.args([
        "--config-net",
        "--quiet",
        "--netns",
        "/proc/self/fd/3",
        "--dns-forward",
    ])
    .arg(DNS.to_string())
    .arg("--pid")
    .arg(pid_file)
    .args(port_args(ports)?)
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    let fd = netns.as_raw_fd();
    // SAFETY: between fork and exec only dup2 and fcntl run, both async-signal-safe.
    unsafe {
        cmd.pre_exec(move || berth_sys::fs::dup_onto(BorrowedFd::borrow_raw(fd), 3));
    }
    let out = cmd.output().map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => PastaError::Missing(e),
        _ => PastaError::Failed(format!("starting it: {e}")),
    })?;
    if out.status.success() {
        return Ok(());
    }
    let _ = stop(pid_file);
    // Its notes about messages it could not send are noise next to the reason.
    let text: String = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| !l.trim().starts_with("Failed to send"))
        .map(|l| format!("{l}\n"))
        .collect();
    Err(PastaError::Failed(crate::usermode::one_line(&text, || {
        out.status.to_string()
    })))
}

/// Ends the pasta recorded in `pid_file`, if it still runs; safe to repeat.
pub fn stop(pid_file: &Path) -> io::Result<()> {
    // pasta runs as `passt.avx2` where the CPU has AVX2.
    crate::usermode::end(pid_file, &["pasta", "passt"])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(proto: Proto, host_ip: Option<IpAddr>, host_port: u16, port: u16) -> Mapping {
        Mapping {
            proto,
            host_ip,
            host_port,
            port,
        }
    }

    #[test]
    fn published_ports_become_pasta_specs() {
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let args = port_args(&[
            m(Proto::Tcp, None, 8080, 80),
            m(Proto::Tcp, Some(lo), 8443, 443),
            m(Proto::Udp, None, 5353, 53),
        ])
        .unwrap();
        assert_eq!(
            args.join(" "),
            "-t 8080:80 -t 127.0.0.1/8443:443 -u 5353:53 -T none -U none"
        );
        assert_eq!(
            port_args(&[]).unwrap().join(" "),
            "-t none -u none -T none -U none"
        );
        let e = port_args(&[m(Proto::Sctp, None, 1, 1)]).unwrap_err();
        assert!(e.to_string().contains("tcp and udp only"), "{e}");
    }
}
