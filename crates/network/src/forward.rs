//! Published TCP ports of a rootless berth's bridge networks. Their containers live in the
//! user's home namespace ([`crate::home`]), which the host's clients cannot reach, so a
//! forwarder process per container (`berth port-forward`, named `berth-ports`) listens on
//! the host's ports in the user's namespace and opens a connection to the container for
//! each client, from inside the home (its listeners are made first, then the process joins
//! the home, so every socket it opens afterwards is there). The container sees its
//! network's gateway as every client's address, as with podman's rootlessport.

use crate::ports::{Mapping, Proto};
use crate::usermode;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};

/// The process name of a forwarder.
pub const NAME: &str = "berth-ports";

/// The pid file of the forwarder of the container whose network record is `record`.
pub fn pid_file(record: &Path) -> PathBuf {
    record.with_file_name("ports.pid")
}

/// One forward: the host's address and port, and the container's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Forward {
    pub host: SocketAddr,
    pub container: SocketAddr,
}

impl Forward {
    /// `HOSTIP:HOSTPORT=CONTAINERIP:PORT`, as the command line carries it.
    pub fn spec(&self) -> String {
        format!("{}={}", self.host, self.container)
    }

    pub fn parse(spec: &str) -> Option<Forward> {
        let (h, c) = spec.split_once('=')?;
        Some(Forward {
            host: h.parse().ok()?,
            container: c.parse().ok()?,
        })
    }
}

/// The forwards of `ports` to the container at `ip`; UDP and SCTP ports are not forwarded
/// (the caller refuses them).
pub fn forwards(ports: &[Mapping], ip: IpAddr) -> Vec<Forward> {
    ports
        .iter()
        .filter(|m| m.proto == Proto::Tcp)
        .map(|m| Forward {
            host: SocketAddr::new(
                m.host_ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                m.host_port,
            ),
            container: SocketAddr::new(ip, m.port),
        })
        .collect()
}

/// Binds the host's side of every forward (in the caller's network namespace).
pub fn listen(forwards: &[Forward]) -> io::Result<Vec<(TcpListener, SocketAddr)>> {
    forwards
        .iter()
        .map(|f| {
            TcpListener::bind(f.host)
                .map(|l| (l, f.container))
                .map_err(|e| io::Error::new(e.kind(), format!("listening on {}: {e}", f.host)))
        })
        .collect()
}

/// Serves every listener until the process is ended: each client gets a connection to the
/// container, opened in the caller's (by now the home's) namespace, and bytes both ways
/// until either side closes.
pub fn serve(listeners: Vec<(TcpListener, SocketAddr)>) {
    let threads: Vec<_> = listeners
        .into_iter()
        .map(|(l, target)| {
            std::thread::spawn(move || loop {
                match l.accept() {
                    Ok((client, _)) => {
                        std::thread::spawn(move || relay(client, target));
                    }
                    // Out of files or memory: wait for some to come back rather than spin.
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(50)),
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
}

fn relay(client: TcpStream, target: SocketAddr) {
    let Ok(server) = TcpStream::connect(target) else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let up = std::thread::spawn(move || pipe(c2, s2));
    pipe(server, client);
    let _ = up.join();
}

/// Copies `from` to `to` until `from` ends, then passes the end on.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let _ = io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}

/// Ends the forwarder recorded in `pid_file`, if it runs; safe to repeat.
pub fn stop(pid_file: &Path) -> io::Result<()> {
    usermode::end(pid_file, &[NAME])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_ports_become_forwards_that_survive_the_command_line() {
        let ip: IpAddr = "10.90.0.2".parse().unwrap();
        let m = |proto, host_ip, host_port, port| Mapping {
            proto,
            host_ip,
            host_port,
            port,
        };
        let f = forwards(
            &[
                m(Proto::Tcp, None, 8080, 80),
                m(Proto::Udp, None, 5353, 53),
                m(Proto::Tcp, Some("127.0.0.1".parse().unwrap()), 8443, 443),
            ],
            ip,
        );
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].spec(), "0.0.0.0:8080=10.90.0.2:80");
        assert_eq!(f[1].spec(), "127.0.0.1:8443=10.90.0.2:443");
        assert_eq!(Forward::parse(&f[1].spec()), Some(f[1]));
        assert_eq!(Forward::parse("8080=x"), None);
    }
}
