//! The DNS server of one network: UDP and TCP on the gateway's port 53. Names of the
//! network's containers are answered from the entries on disk; other questions are
//! forwarded, each on a thread of its own, to the asking container's `--dns` servers or the
//! network's upstream servers (berth's configured ones, else the host's).

use super::message::{self, Query, Record};
use super::{entries, entries_dir, lock, Entry};
use crate::resolv::Resolv;
use crate::{Error, Network, Networks};
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// How long an upstream server has to answer.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the server looks whether it is still needed.
const TICK: Duration = Duration::from_millis(250);

/// What the server answers from: the network and its containers' entries.
struct Book {
    network: Network,
    entries: Vec<(String, Entry)>,
    upstream: Vec<IpAddr>,
    /// `ROOT/networks`: a container on several networks is answered the names of all of
    /// them, from their entries.
    root: PathBuf,
}

/// What to do with a question.
enum Reply {
    Now(Vec<u8>),
    Forward(Vec<IpAddr>),
    Drop,
}

impl Book {
    fn serves(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.network.subnets.iter().any(|s| s.subnet.contains(&ip))
    }

    fn reply(&self, msg: &[u8], client: IpAddr) -> Reply {
        let Ok(q) = Query::parse(msg) else {
            return Reply::Drop;
        };
        // Only the network's own containers may ask: names do not leak across networks.
        if !self.serves(client) {
            return Reply::Now(q.answer(message::REFUSED, &[]));
        }
        let asker = self.entries.iter().find(|(_, e)| e.addrs.contains(&client));
        if self.network.dns && q.is_in() {
            if let Some(records) = local(&self.network.name, &self.entries, &q) {
                return Reply::Now(q.answer(message::NOERROR, &records));
            }
            if let Some(records) = asker.and_then(|(owner, _)| self.elsewhere(owner, &q)) {
                return Reply::Now(q.answer(message::NOERROR, &records));
            }
        }
        let mine = asker
            .map(|(_, e)| e.upstream.clone())
            .filter(|u| !u.is_empty());
        let upstream = mine.unwrap_or_else(|| self.upstream.clone());
        if self.network.internal || upstream.is_empty() {
            return Reply::Now(q.answer(message::SERVFAIL, &[]));
        }
        Reply::Forward(upstream)
    }

    /// The records for a name on another network that `owner` is on too.
    fn elsewhere(&self, owner: &str, q: &Query) -> Option<Vec<Record>> {
        let dirs = std::fs::read_dir(&self.root).ok()?;
        dirs.filter_map(Result::ok)
            .map(|d| d.path())
            .filter(|d| *d != self.root.join(&self.network.id))
            .filter(|d| super::entry_path(d, owner).exists())
            // (Without the other network's name at hand, only plain names match there.)
            .find_map(|d| local("", &entries(&d).ok()?, q))
    }
}

/// The records for a name among `entries` of network `network` (`None`: not one of its
/// names). A name may carry the network's name as its domain.
fn local(network: &str, entries: &[(String, Entry)], q: &Query) -> Option<Vec<Record>> {
    if q.qtype == message::TYPE_PTR {
        let ip = message::reverse(&q.name)?;
        let (_, e) = entries.iter().find(|(_, e)| e.addrs.contains(&ip))?;
        return Some(vec![Record::Ptr(e.names.first()?.clone())]);
    }
    let suffix = format!(".{}", network.to_ascii_lowercase());
    let name = match network {
        "" => &q.name,
        _ => q.name.strip_suffix(&suffix).unwrap_or(&q.name),
    };
    let (_, e) = entries
        .iter()
        .find(|(_, e)| e.names.iter().any(|n| n.eq_ignore_ascii_case(name)))?;
    let want = |ip: &IpAddr| match q.qtype {
        message::TYPE_A => ip.is_ipv4(),
        message::TYPE_AAAA => ip.is_ipv6(),
        message::TYPE_ANY => true,
        _ => false,
    };
    Some(
        e.addrs
            .iter()
            .filter(|ip| want(ip))
            .map(|ip| Record::Addr(*ip))
            .collect(),
    )
}

/// Asks `upstream` servers in turn over UDP; the first answer.
fn ask_udp(msg: &[u8], upstream: &[IpAddr]) -> Option<Vec<u8>> {
    for ip in upstream {
        let any: SocketAddr = if ip.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }
            .parse()
            .ok()?;
        let Ok(s) = UdpSocket::bind(any) else {
            continue;
        };
        let _ = s.set_read_timeout(Some(UPSTREAM_TIMEOUT));
        if s.send_to(msg, SocketAddr::new(*ip, 53)).is_err() {
            continue;
        }
        let mut buf = vec![0; 65535];
        if let Ok((n, _)) = s.recv_from(&mut buf) {
            buf.truncate(n);
            return Some(buf);
        }
    }
    None
}

/// Asks `upstream` servers in turn over TCP; the first answer.
fn ask_tcp(msg: &[u8], upstream: &[IpAddr]) -> Option<Vec<u8>> {
    upstream.iter().find_map(|ip| {
        let mut s = TcpStream::connect_timeout(&SocketAddr::new(*ip, 53), UPSTREAM_TIMEOUT).ok()?;
        s.set_read_timeout(Some(UPSTREAM_TIMEOUT)).ok()?;
        write_framed(&mut s, msg).ok()?;
        read_framed(&mut s).ok()
    })
}

fn read_framed(s: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut len = [0; 2];
    s.read_exact(&mut len)?;
    let mut msg = vec![0; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut msg)?;
    Ok(msg)
}

fn write_framed(s: &mut TcpStream, msg: &[u8]) -> io::Result<()> {
    let len = u16::try_from(msg.len()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut out = len.to_be_bytes().to_vec();
    out.extend(msg);
    s.write_all(&out)
}

/// Serves one TCP client until it hangs up.
fn serve_tcp(book: Arc<Book>, mut s: TcpStream, client: IpAddr) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    while let Ok(msg) = read_framed(&mut s) {
        let answer = match book.reply(&msg, client) {
            Reply::Now(a) => a,
            Reply::Forward(up) => match ask_tcp(&msg, &up) {
                Some(a) => a,
                None => return,
            },
            Reply::Drop => return,
        };
        if write_framed(&mut s, &answer).is_err() {
            return;
        }
    }
}

/// The upstream servers of the network: berth's configured ones, else the host's (on
/// loopback too: this process runs in the host's namespace).
fn upstream(nets: &Networks) -> Vec<IpAddr> {
    if !nets.config.dns.is_empty() {
        return nets.config.dns.clone();
    }
    std::fs::read_to_string(&nets.config.resolv_conf)
        .map(|t| Resolv::parse(&t).nameservers)
        .unwrap_or_default()
}

fn mtime(dir: &Path) -> Option<SystemTime> {
    std::fs::metadata(dir).and_then(|m| m.modified()).ok()
}

/// Runs the DNS server of network `network` until no container needs it. `ready` hears
/// "ok" once it listens (also when another server already runs, and it leaves at once).
pub fn serve(nets: &Networks, network: &str, ready: Option<File>) -> Result<(), Error> {
    let n = nets.definitions().find(network)?;
    let dir = nets.net_dir(&n.id);
    let say_ok = |ready: Option<File>| {
        if let Some(mut r) = ready {
            let _ = r.write_all(b"ok");
        }
    };
    let Some(_running) = lock(&dir.join("dns.lock"), false)? else {
        say_ok(ready);
        return Ok(());
    };
    let mut udp = Vec::new();
    let mut tcp = Vec::new();
    for s in &n.subnets {
        let at = SocketAddr::new(s.gateway, 53);
        let bound = (|| -> io::Result<()> {
            udp.push(UdpSocket::bind(at)?);
            tcp.push(TcpListener::bind(at)?);
            Ok(())
        })();
        bound.map_err(Error::kernel(format!(
            "DNS server of network {}: bind {at}",
            n.name
        )))?;
    }
    say_ok(ready);
    let entries_at: PathBuf = entries_dir(&dir);
    let mut seen = None;
    let mut book = Arc::new(Book {
        network: n.clone(),
        entries: Vec::new(),
        upstream: upstream(nets),
        root: nets.dir.clone(),
    });
    let mut buf = vec![0; 65535];
    loop {
        let now = mtime(&entries_at);
        if now != seen {
            seen = now;
            book = Arc::new(Book {
                network: n.clone(),
                entries: entries(&dir)?,
                upstream: book.upstream.clone(),
                root: nets.dir.clone(),
            });
        }
        // Nobody needs the server: leave, unless a container is arriving (it holds the gate
        // between writing its entry and looking for a server).
        if book.entries.is_empty() {
            if let Some(_gate) = lock(&dir.join("dns.gate"), false)? {
                if entries(&dir)?.is_empty() {
                    return Ok(());
                }
            }
        }
        let fds: Vec<_> = udp
            .iter()
            .map(|s| Some(s.as_fd()))
            .chain(tcp.iter().map(|l| Some(l.as_fd())))
            .collect();
        let ready = berth_sys::poll::readable(&fds, Some(TICK))
            .map_err(Error::kernel("DNS server: poll"))?;
        for (i, r) in ready.iter().enumerate() {
            if !r {
                continue;
            }
            if let Some(s) = udp.get(i) {
                let Ok((len, from)) = s.recv_from(&mut buf) else {
                    continue;
                };
                let msg = buf[..len].to_vec();
                match book.reply(&msg, from.ip()) {
                    Reply::Now(a) => {
                        let _ = s.send_to(&a, from);
                    }
                    Reply::Forward(up) => {
                        if let Ok(s) = s.try_clone() {
                            std::thread::spawn(move || {
                                if let Some(a) = ask_udp(&msg, &up) {
                                    let _ = s.send_to(&a, from);
                                }
                            });
                        }
                    }
                    Reply::Drop => {}
                }
            } else if let Some(l) = tcp.get(i - udp.len()) {
                if let Ok((s, from)) = l.accept() {
                    let book = Arc::clone(&book);
                    std::thread::spawn(move || serve_tcp(book, s, from.ip()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::networks::Subnet;
    use std::collections::BTreeMap;

    fn book(dns: bool, internal: bool) -> Book {
        Book {
            network: Network {
                name: "net".into(),
                id: "i".into(),
                created: 0,
                bridge: "b".into(),
                subnets: vec![Subnet {
                    subnet: "10.9.0.0/24".parse().unwrap(),
                    gateway: "10.9.0.1".parse().unwrap(),
                    range: None,
                }],
                internal,
                dns,
                mtu: None,
                labels: BTreeMap::new(),
                options: BTreeMap::new(),
            },
            entries: vec![
                (
                    "w".into(),
                    Entry {
                        names: vec!["web".into(), "www".into()],
                        addrs: vec!["10.9.0.2".parse().unwrap(), "fd00::2".parse().unwrap()],
                        upstream: vec![],
                    },
                ),
                (
                    "d".into(),
                    Entry {
                        names: vec!["db".into()],
                        addrs: vec!["10.9.0.3".parse().unwrap()],
                        upstream: vec!["192.0.2.9".parse().unwrap()],
                    },
                ),
            ],
            upstream: vec!["192.0.2.53".parse().unwrap()],
            root: PathBuf::from("/nonexistent"),
        }
    }

    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut m = vec![0, 7, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        for l in name.split('.') {
            m.push(l.len() as u8);
            m.extend(l.as_bytes());
        }
        m.extend([0, 0, qtype as u8, 0, 1]);
        m
    }

    fn answers(r: Reply) -> (u8, u16) {
        match r {
            Reply::Now(a) => (a[3] & 0xf, u16::from_be_bytes([a[6], a[7]])),
            _ => panic!("not answered here"),
        }
    }

    #[test]
    fn names_aliases_families_and_refusals() {
        let b = book(true, false);
        let me: IpAddr = "10.9.0.3".parse().unwrap();
        assert_eq!(
            answers(b.reply(&query("WWW", 1), me)),
            (message::NOERROR, 1)
        );
        assert_eq!(
            answers(b.reply(&query("web.net", 28), me)),
            (message::NOERROR, 1)
        );
        assert_eq!(
            answers(b.reply(&query("db", 28), me)),
            (message::NOERROR, 0)
        );
        assert_eq!(
            answers(b.reply(&query("2.0.9.10.in-addr.arpa", 12), me)),
            (message::NOERROR, 1)
        );
        let outsider: IpAddr = "10.8.0.2".parse().unwrap();
        assert_eq!(
            answers(b.reply(&query("web", 1), outsider)).0,
            message::REFUSED
        );
        // Other names go to the asker's own servers, or the network's.
        match b.reply(&query("example.com", 1), me) {
            Reply::Forward(up) => assert_eq!(up, ["192.0.2.9".parse::<IpAddr>().unwrap()]),
            _ => panic!("not forwarded"),
        }
        match b.reply(&query("example.com", 1), "10.9.0.2".parse().unwrap()) {
            Reply::Forward(up) => assert_eq!(up, ["192.0.2.53".parse::<IpAddr>().unwrap()]),
            _ => panic!("not forwarded"),
        }
        assert!(matches!(b.reply(&[1, 2, 3], me), Reply::Drop));
    }

    #[test]
    fn internal_networks_do_not_forward_and_the_default_one_has_no_names() {
        let me: IpAddr = "10.9.0.2".parse().unwrap();
        let b = book(true, true);
        assert_eq!(
            answers(b.reply(&query("example.com", 1), me)).0,
            message::SERVFAIL
        );
        let d = book(false, false);
        assert!(matches!(d.reply(&query("web", 1), me), Reply::Forward(_)));
    }
}
