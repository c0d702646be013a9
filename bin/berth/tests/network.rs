//! Networking through the real `berth`, as root, with real traffic. Each test runs in a
//! network namespace of its own (see `common::engine::private_network`) that plays the host;
//! an "outside" namespace beside it, reached through a veth pair (192.0.2.1 here, 192.0.2.2
//! there), plays the rest of the world. Nothing touches the machine's own network.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::engine::{eventually, Engine};
use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Command};
use std::time::Duration;

fn sh(cmd: &str) -> String {
    let o = Command::new("sh").arg("-c").arg(cmd).output().unwrap();
    assert!(
        o.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// Runs `f` on a thread that joined the network namespace `ns`.
fn inside<T: Send>(ns: &File, f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            // SAFETY: plain syscall on a valid fd; it changes only this thread.
            let r = unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(ns), libc::CLONE_NEWNET) };
            assert_eq!(r, 0);
            f()
        })
        .join()
        .unwrap()
    })
}

/// The network namespace of a running container.
fn netns(e: &Engine, c: &str) -> File {
    let pid = e.inspect(c)["State"]["Pid"].as_i64().unwrap();
    File::open(format!("/proc/{pid}/ns/net")).unwrap()
}

/// The body of `GET path` at `addr`, or the error.
fn get(addr: &str, path: &str) -> Result<String, String> {
    let a = addr.parse().unwrap();
    let mut c =
        TcpStream::connect_timeout(&a, Duration::from_secs(2)).map_err(|e| e.to_string())?;
    c.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    write!(c, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").map_err(|e| e.to_string())?;
    let mut s = String::new();
    c.read_to_string(&mut s).map_err(|e| e.to_string())?;
    Ok(s.split_once("\r\n\r\n")
        .map_or(s.clone(), |(_, b)| b.to_string()))
}

/// An HTTP server (on a thread, in namespace `ns`) that answers with the client's address.
fn serve_peer_address(ns: &File, addr: &str) {
    let l = inside(ns, || TcpListener::bind(addr).unwrap());
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten() {
            let mut buf = [0; 1024];
            let _ = c.read(&mut buf);
            let peer = c.peer_addr().unwrap().ip();
            let _ = write!(
                c,
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{peer}",
                peer.to_string().len()
            );
        }
    });
}

/// The outside world: a namespace held by a process, at 192.0.2.2, linked to the test's
/// namespace (192.0.2.1).
struct Outside {
    child: Child,
    ns: File,
}

impl Outside {
    fn new() -> Outside {
        let child = Command::new("unshare")
            .args(["-n", "sleep", "600"])
            .spawn()
            .unwrap();
        let pid = child.id();
        let me = std::fs::read_link("/proc/thread-self/ns/net").unwrap();
        eventually("unshare -n", || {
            std::fs::read_link(format!("/proc/{pid}/ns/net")).is_ok_and(|l| l != me)
        });
        sh(&format!(
            "ip link add out0 type veth peer name eth0 netns {pid} && \
             ip addr add 192.0.2.1/24 dev out0 && ip link set out0 up && \
             nsenter -t {pid} -n sh -c 'ip addr add 192.0.2.2/24 dev eth0 && \
             ip link set eth0 up && ip link set lo up'"
        ));
        let ns = File::open(format!("/proc/{pid}/ns/net")).unwrap();
        Outside { child, ns }
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What berth's networking left in the test's namespace and root: veths (the kernel removes
/// them with a container's namespace, within a few seconds at most), published ports in the
/// firewall, leases, host port claims, DNS servers.
fn leftovers(e: &Engine) -> Vec<String> {
    let veths = || {
        sh("ip -o link | awk '{print $2}'")
            .lines()
            .filter(|l| l.starts_with("veth"))
            .map(|l| format!("link {l}"))
            .collect::<Vec<_>>()
    };
    for _ in 0..500 {
        if veths().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut out = veths();
    let table = sh("nft list table inet berth 2>/dev/null || true");
    for map in ["ports4", "ports4at", "ports6", "ports6at"] {
        if let Some(body) = table.split(&format!("map {map} {{")).nth(1) {
            let body = body.split('}').next().unwrap_or("");
            if body.contains("elements") {
                out.push(format!("nft {map}: {body}"));
            }
        }
    }
    let nets = e.b.root.join("networks");
    for entry in std::fs::read_dir(&nets).into_iter().flatten().flatten() {
        let leases = entry.path().join("leases");
        for l in std::fs::read_dir(&leases).into_iter().flatten().flatten() {
            out.push(format!("lease {}", l.path().display()));
        }
    }
    for p in std::fs::read_dir(nets.join("ports"))
        .into_iter()
        .flatten()
        .flatten()
    {
        out.push(format!("port {}", p.path().display()));
    }
    out.extend(
        common::engine::processes_mentioning(&nets)
            .into_iter()
            .map(|p| format!("process {p}")),
    );
    out
}

/// `berth run --rm --network NET busybox` fetching `url`, giving up after 3 s (busybox's
/// `timeout` signals the program from a child, which a PID 1 would ignore: a shell stays
/// PID 1, the trailing `exit` keeping it from exec'ing the last command).
fn fetch(e: &Engine, net: &str, url: &str) -> std::process::Output {
    let cmd = format!("timeout 3 wget -q -O - {url}; exit $?");
    e.run(&["run", "--rm", "--network", net, "busybox", "sh", "-c", &cmd])
}

fn fetched(e: &Engine, net: &str, url: &str) -> String {
    let o = fetch(e, net, url);
    assert!(
        o.status.success(),
        "{url}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn httpd(e: &Engine, extra: &[&str]) -> String {
    let mut args = vec!["run", "-d"];
    args.extend(extra);
    args.extend(["busybox", "httpd", "-f", "-p", "80", "-h", "/etc"]);
    e.ok(&args).trim().to_string()
}

#[test]
fn published_ports_answer_from_the_host_loopback_and_other_containers() {
    let e = Engine::new();
    let _out = Outside::new();
    let web = httpd(
        &e,
        &["--name", "web", "--hostname", "webhost", "-p", "8080:80"],
    );
    let expect = "webhost\n";
    eventually("httpd", || get("127.0.0.1:8080", "/hostname").is_ok());
    assert_eq!(get("127.0.0.1:8080", "/hostname").unwrap(), expect);
    assert_eq!(get("192.0.2.1:8080", "/hostname").unwrap(), expect);
    let gw = e.inspect("web")["NetworkSettings"]["Gateway"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(get(&format!("{gw}:8080"), "/hostname").unwrap(), expect);
    // From another container, through the host's address (hairpin) and directly.
    let ip = e.inspect("web")["NetworkSettings"]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    for url in [
        "http://192.0.2.1:8080/hostname".to_string(),
        format!("http://{ip}/hostname"),
    ] {
        let got = fetched(&e, "bridge", &url);
        assert_eq!(got, expect, "{url}");
    }
    assert_eq!(e.ok(&["port", "web"]), "80/tcp -> 0.0.0.0:8080\n");
    assert_eq!(e.ok(&["port", "web", "80"]), "0.0.0.0:8080\n");
    let ps = e.ok(&["ps", "--format", "{{.Ports}}"]);
    assert_eq!(ps, "0.0.0.0:8080->80/tcp\n");
    // Taken: by berth, and by a listener of the host.
    let err = e.fail(125, &["run", "--rm", "-p", "8080:80", "busybox", "true"]);
    assert!(
        err.contains("port 8080/tcp is already published by container"),
        "{err}"
    );
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = l.local_addr().unwrap().port().to_string();
    let err = e.fail(
        125,
        &[
            "run",
            "--rm",
            "-p",
            &format!("{busy}:80"),
            "busybox",
            "true",
        ],
    );
    assert!(err.contains("already in use on the host"), "{err}");
    drop(l);
    // One port on two host addresses, for two containers; then on every address, refused.
    let lo = httpd(&e, &["--hostname", "lo", "-p", "127.0.0.1:8081:80"]);
    let outer = httpd(&e, &["--hostname", "outer", "-p", "192.0.2.1:8081:80"]);
    eventually("both httpd", || {
        get("127.0.0.1:8081", "/hostname").is_ok() && get("192.0.2.1:8081", "/hostname").is_ok()
    });
    assert_eq!(get("127.0.0.1:8081", "/hostname").unwrap(), "lo\n");
    assert_eq!(get("192.0.2.1:8081", "/hostname").unwrap(), "outer\n");
    let err = e.fail(125, &["run", "--rm", "-p", "8081:80", "busybox", "true"]);
    assert!(
        err.contains("port 8081/tcp on 127.0.0.1 is already published by container")
            || err.contains("port 8081/tcp on 192.0.2.1 is already published by container"),
        "{err}"
    );
    e.ok(&["rm", "-f", &lo, &outer, &web]);
    assert!(get("127.0.0.1:8080", "/hostname").is_err());
    assert_eq!(leftovers(&e), Vec::<String>::new());
    e.assert_clean();
}

#[test]
fn udp_and_random_ports() {
    let e = Engine::new();
    let c = e.ok(&[
        "run",
        "-d",
        "-p",
        "127.0.0.1::53/udp",
        "-P",
        "--name",
        "u",
        "busybox",
        "sleep",
        "60",
    ]);
    // An echo server in the container's namespace (busybox has no UDP server), for one
    // datagram: its socket would keep the namespace, and so the veth, alive.
    let sock = inside(&netns(&e, "u"), || UdpSocket::bind("0.0.0.0:53").unwrap());
    std::thread::spawn(move || {
        let mut buf = [0; 512];
        if let Ok((n, from)) = sock.recv_from(&mut buf) {
            let _ = sock.send_to(&buf[..n], from);
        }
    });
    let ports = e.ok(&["port", "u"]);
    let udp = ports
        .lines()
        .find_map(|l| l.strip_prefix("53/udp -> 127.0.0.1:"))
        .unwrap_or_else(|| panic!("{ports}"));
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    client.send_to(b"ping", format!("127.0.0.1:{udp}")).unwrap();
    let mut buf = [0; 16];
    let (n, _) = client.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"ping");
    // -P: the image exposes nothing, so only the -p port is published.
    assert_eq!(ports.lines().count(), 1, "{ports}");
    e.ok(&["rm", "-f", c.trim()]);
    // -P with an image that exposes 80: a free port, as berth port reports it.
    let tar = e.busybox_tar();
    e.ok(&["import", "-c", "EXPOSE 80", tar.to_str().unwrap(), "web"]);
    e.ok(&[
        "run", "-d", "-P", "--expose", "81-82", "--expose", "80", "--name", "w", "web", "httpd",
        "-f", "-p", "80", "-h", "/etc",
    ]);
    // --expose adds ports for -P; one exposed twice is published once.
    let all = e.ok(&["port", "w"]);
    let published: Vec<&str> = all.lines().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(published, ["80/tcp", "81/tcp", "82/tcp"], "{all}");
    let port = e.ok(&["port", "w", "80/tcp"]);
    let port = port.trim().strip_prefix("0.0.0.0:").unwrap().to_string();
    eventually("httpd", || {
        get(&format!("127.0.0.1:{port}"), "/hostname").is_ok()
    });
    e.ok(&["rm", "-f", "w"]);
    e.ok(&["rmi", "web"]);
    assert_eq!(leftovers(&e), Vec::<String>::new());
    e.assert_clean();
}

#[test]
fn outbound_traffic_is_masqueraded_and_networks_are_isolated() {
    let e = Engine::new();
    let out = Outside::new();
    serve_peer_address(&out.ns, "192.0.2.2:7000");
    let seen = fetched(&e, "bridge", "http://192.0.2.2:7000/");
    assert_eq!(
        seen, "192.0.2.1",
        "the container's own address must not show"
    );
    // Two user networks cannot reach each other; an internal one cannot leave the host.
    e.ok(&["network", "create", "a"]);
    e.ok(&["network", "create", "b"]);
    e.ok(&["network", "create", "--internal", "i"]);
    httpd(&e, &["--name", "on-a", "--network", "a"]);
    let ip_a = e.inspect("on-a")["NetworkSettings"]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    let reach = |net: &str, url: &str| fetch(&e, net, url).status.success();
    let url = format!("http://{ip_a}/hostname");
    eventually("httpd on a", || reach("a", &url));
    assert!(!reach("b", &url), "b reached a");
    assert!(!reach("i", "http://192.0.2.2:7000/"), "internal got out");
    assert!(reach("a", "http://192.0.2.2:7000/"));
    // Someone flushes every firewall rule; berth network reload puts berth's back.
    sh("nft flush ruleset");
    e.ok(&["network", "reload"]);
    assert!(!reach("b", &url), "b reached a after reload");
    assert_eq!(fetched(&e, "bridge", "http://192.0.2.2:7000/"), "192.0.2.1");
    e.ok(&["rm", "-f", "on-a"]);
    e.ok(&["network", "rm", "a", "b", "i"]);
    assert_eq!(leftovers(&e), Vec::<String>::new());
    e.assert_clean();
}

#[test]
fn ipv6_ports_publish_addresses_go_out_masqueraded_and_networks_stay_apart() {
    let e = Engine::new();
    let out = Outside::new();
    // nodad: the addresses are usable at once.
    sh("ip addr add 2001:db8::1/64 dev out0 nodad");
    inside(&out.ns, || sh("ip addr add 2001:db8::2/64 dev eth0 nodad"));
    serve_peer_address(&out.ns, "[2001:db8::2]:7006");
    e.ok(&["network", "create", "--ipv6", "six"]);
    e.ok(&["network", "create", "--ipv6", "seven"]);
    let web = httpd(
        &e,
        &["--hostname", "v6web", "--network", "six", "-p", "8086:80"],
    );
    let ip6 = e.inspect(&web)["NetworkSettings"]["Networks"]["six"]["GlobalIPv6Address"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(ip6.starts_with("fd"), "{ip6}");
    // The published port on the host's IPv6 address, from the host and from outside.
    eventually("httpd over IPv6", || {
        get("[2001:db8::1]:8086", "/hostname").is_ok()
    });
    assert_eq!(get("[2001:db8::1]:8086", "/hostname").unwrap(), "v6web\n");
    assert_eq!(
        inside(&out.ns, || get("[2001:db8::1]:8086", "/hostname")).unwrap(),
        "v6web\n"
    );
    // Out through masquerade: the outside sees the host's address.
    assert_eq!(
        fetched(&e, "six", "http://[2001:db8::2]:7006/"),
        "2001:db8::1"
    );
    // Directly on its network; not from another one.
    let url = format!("http://[{ip6}]/hostname");
    assert_eq!(fetched(&e, "six", &url), "v6web\n");
    assert!(
        !fetch(&e, "seven", &url).status.success(),
        "seven reached six"
    );
    e.ok(&["rm", "-f", &web]);
    assert!(get("[2001:db8::1]:8086", "/hostname").is_err());
    e.ok(&["network", "rm", "six", "seven"]);
    assert_eq!(leftovers(&e), Vec::<String>::new());
    e.assert_clean();
}

#[test]
fn parallel_runs_get_distinct_addresses_and_kill_9_leaves_nothing_after_one_command() {
    let e = Engine::new();
    e.ok(&["network", "create", "--subnet", "10.55.0.0/24", "p"]);
    let ids: Vec<String> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..50)
            .map(|_| {
                let e = &e;
                s.spawn(move || {
                    e.ok(&[
                        "run",
                        "-d",
                        "--network",
                        "p",
                        "-p",
                        "80",
                        "busybox",
                        "sleep",
                        "600",
                    ])
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().unwrap().trim().to_string())
            .collect()
    });
    let mut ips: Vec<String> = ids
        .iter()
        .map(|id| {
            e.inspect(id)["NetworkSettings"]["IPAddress"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 50, "{ips:?}");
    // kill -9 of every berth process (the monitors), then of the containers.
    let root = e.b.root.to_string_lossy().into_owned();
    let procs = sh(&format!("pgrep -f -- '--root {root}' || true"));
    for pid in procs.lines() {
        let _ = Command::new("kill").args(["-9", pid]).output();
    }
    for id in &ids {
        let pid = e.inspect(id)["State"]["Pid"].as_i64().unwrap_or(0);
        if pid > 0 {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).output();
        }
    }
    eventually("the containers' processes gone", || {
        ids.iter()
            .all(|id| e.inspect(id)["State"]["Running"] == false)
    });
    // One command (the inspects above, or ps) tore everything down.
    e.ok(&["ps", "-a", "-q"]);
    assert_eq!(leftovers(&e), Vec::<String>::new());
    for id in &ids {
        e.ok(&["rm", id]);
    }
    e.ok(&["network", "rm", "p"]);
    e.assert_clean();
}

#[test]
fn bad_network_input_fails_in_one_line_and_leaves_nothing() {
    let e = Engine::new();
    e.ok(&["network", "create", "--subnet", "10.66.0.0/24", "n"]);
    for (code, args, what) in [
        (
            1,
            &["network", "create", "--subnet", "10.66.0.0/16", "m"][..],
            "overlaps subnet 10.66.0.0/24 of network n",
        ),
        (
            1,
            &[
                "network",
                "create",
                "--subnet",
                "10.67.0.0/24",
                "--gateway",
                "10.68.0.1",
                "m",
            ],
            "not a host of subnet",
        ),
        (1, &["network", "create", "n"], "already exists"),
        (1, &["network", "rm", "bridge"], "predefined"),
        (
            1,
            &["network", "rm", "nosuchnet"],
            "network nosuchnet not found",
        ),
        (
            125,
            &["run", "--rm", "-p", "80:80:80:80", "busybox", "true"],
            "--publish",
        ),
        (
            125,
            &["run", "--rm", "-p", "99999", "busybox", "true"],
            "not a port",
        ),
        (
            125,
            &["run", "--rm", "--network", "nosuchnet", "busybox", "true"],
            "network nosuchnet not found",
        ),
        (
            125,
            &["create", "--network", "nosuchnet", "busybox"],
            "network nosuchnet not found",
        ),
        (
            125,
            &["run", "--rm", "--network", "pasta", "busybox", "true"],
            "pasta is a rootless berth's network",
        ),
        (
            125,
            &["create", "--network", "slirp4netns", "busybox"],
            "slirp4netns is a rootless berth's network",
        ),
        (
            125,
            &[
                "run",
                "--rm",
                "--network",
                "n",
                "--ip",
                "10.9.9.9",
                "busybox",
                "true",
            ],
            "--ip",
        ),
        (
            125,
            &[
                "run",
                "--rm",
                "--network",
                "none",
                "-p",
                "80",
                "busybox",
                "true",
            ],
            "needs a bridge network",
        ),
        (
            125,
            &[
                "run",
                "--rm",
                "--network",
                "container:nosuch",
                "busybox",
                "true",
            ],
            "no such container",
        ),
    ] {
        let err = e.fail(code, args);
        assert!(err.contains(what), "berth {args:?}: {err}");
        e.assert_clean();
        assert_eq!(leftovers(&e), Vec::<String>::new(), "berth {args:?}");
    }
    e.ok(&[
        "run",
        "-d",
        "--name",
        "user",
        "--network",
        "n",
        "busybox",
        "sleep",
        "60",
    ]);
    let err = e.fail(1, &["network", "rm", "n"]);
    assert!(
        err.contains("network n is in use by container user"),
        "{err}"
    );
    e.ok(&["rm", "-f", "user"]);
    e.ok(&["network", "rm", "n"]);
    assert!(
        dns_servers(&e).is_empty(),
        "network rm waits for its DNS server"
    );
    assert_eq!(leftovers(&e), Vec::<String>::new());
    e.assert_clean();
}

/// A resolver on UDP `addr` in namespace `ns`: `example.test` is 203.0.113.7, nothing else
/// exists.
fn fake_resolver(ns: &File, addr: &str) {
    let s = inside(ns, || UdpSocket::bind(addr).unwrap());
    std::thread::spawn(move || {
        let mut buf = [0; 512];
        while let Ok((n, from)) = s.recv_from(&mut buf) {
            let q = &buf[..n];
            // The question: labels from offset 12 to a zero byte, then type and class.
            let mut at = 12;
            let mut labels = Vec::new();
            while at < n && q[at] != 0 {
                let l = q[at] as usize;
                labels.push(String::from_utf8_lossy(&q[at + 1..at + 1 + l]).to_lowercase());
                at += 1 + l;
            }
            let question = &q[12..at + 5];
            let known = labels.join(".") == "example.test" && q[at + 2] == 1;
            let mut r = vec![q[0], q[1], 0x81, if known { 0x80 } else { 0x83 }, 0, 1];
            r.extend([0, u8::from(known), 0, 0, 0, 0]);
            r.extend(question);
            if known {
                r.extend([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 203, 0, 113, 7]);
            }
            let _ = s.send_to(&r, from);
        }
    });
}

fn nslookup(e: &Engine, net: &str, name: &str) -> String {
    let cmd = format!("nslookup {name} 2>&1; exit 0");
    let o = e.run(&["run", "--rm", "--network", net, "busybox", "sh", "-c", &cmd]);
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The DNS servers berth runs for `e`.
fn dns_servers(e: &Engine) -> Vec<String> {
    common::engine::processes_mentioning(&e.b.root)
        .into_iter()
        .filter(|p| p.contains("dns-server"))
        .collect()
}

#[test]
fn names_resolve_on_a_user_network_and_the_rest_is_forwarded() {
    let e = Engine::new();
    let out = Outside::new();
    fake_resolver(&out.ns, "192.0.2.2:53");
    std::fs::write(e.b.config.join("network.toml"), "dns = [\"192.0.2.2\"]\n").unwrap();
    e.ok(&["network", "create", "a"]);
    e.ok(&["network", "create", "--subnet", "10.99.0.0/24", "b"]);
    httpd(
        &e,
        &[
            "--name",
            "web",
            "--hostname",
            "webhost",
            "--network",
            "a",
            "--network-alias",
            "www",
        ],
    );
    for name in ["web", "www", "webhost"] {
        let url = format!("http://{name}/hostname");
        eventually("httpd by name", || fetch(&e, "a", &url).status.success());
        assert_eq!(fetched(&e, "a", &url), "webhost\n", "{name}");
    }
    // Names of another network are not known; other names go to the upstream resolver.
    let other = nslookup(&e, "b", "web");
    assert!(
        other.contains("NXDOMAIN") || other.contains("can't find"),
        "{other}"
    );
    assert!(!fetch(&e, "b", "http://web/hostname").status.success());
    let ext = nslookup(&e, "a", "example.test");
    assert!(ext.contains("203.0.113.7"), "{ext}");
    // docker's long form gives a network its own alias and address.
    httpd(
        &e,
        &[
            "--name",
            "api",
            "--hostname",
            "apihost",
            "--network",
            "name=b,alias=backend,ip=10.99.0.50",
        ],
    );
    let b = &e.inspect("api")["NetworkSettings"]["Networks"]["b"];
    assert_eq!(b["IPAddress"], "10.99.0.50", "{b}");
    assert_eq!(b["Aliases"][0], "backend", "{b}");
    eventually("api by its alias", || {
        fetch(&e, "b", "http://backend/hostname").status.success()
    });
    assert_eq!(fetched(&e, "b", "http://backend/hostname"), "apihost\n");
    e.ok(&["rm", "-f", "api"]);
    assert_eq!(
        e.ok(&[
            "run",
            "--rm",
            "--network",
            "a",
            "busybox",
            "cat",
            "/etc/resolv.conf"
        ])
        .lines()
        .next(),
        Some("nameserver 10.90.0.1")
    );
    // The server: killed, it comes back with the next container (or `network reload`).
    // (b's leaves a moment after its last container.)
    eventually("only a's DNS server", || dns_servers(&e).len() == 1);
    let pid = dns_servers(&e)[0].split(':').next().unwrap().to_string();
    sh(&format!("kill -9 {pid}"));
    eventually("the DNS server dies", || dns_servers(&e).is_empty());
    e.ok(&["network", "reload"]);
    assert_eq!(fetched(&e, "a", "http://www/hostname"), "webhost\n");
    // Gone with the last container of the network.
    e.ok(&["rm", "-f", "web"]);
    eventually("the DNS server leaves", || dns_servers(&e).is_empty());
    e.ok(&["network", "rm", "a", "b"]);
    assert_eq!(leftovers(&e), Vec::<String>::new());
    e.assert_clean();
}

#[test]
fn a_host_resolver_on_loopback_still_resolves_and_etc_files_follow_the_flags() {
    let e = Engine::new();
    // The host's resolv.conf names a stub on loopback, as systemd-resolved's does.
    let lo = File::open("/proc/thread-self/ns/net").unwrap();
    fake_resolver(&lo, "127.0.0.53:53");
    let resolv = e.b.dir.path().join("host-resolv.conf");
    std::fs::write(&resolv, "nameserver 127.0.0.53\nsearch corp.example\n").unwrap();
    std::fs::write(
        e.b.config.join("network.toml"),
        format!("resolv_conf = {:?}\n", resolv.to_str().unwrap()),
    )
    .unwrap();
    let found = nslookup(&e, "bridge", "example.test");
    assert!(found.contains("203.0.113.7"), "{found}");
    let conf = e.ok(&["run", "--rm", "busybox", "cat", "/etc/resolv.conf"]);
    assert_eq!(conf, "nameserver 10.87.0.1\nsearch corp.example\n");
    // --dns, --dns-search, --dns-option, --add-host, --hostname, --ip, --mac-address.
    let files = e.ok(&[
        "run",
        "--rm",
        "--dns",
        "192.0.2.9",
        "--dns-search",
        "x.example",
        "--dns-option",
        "ndots:2",
        "--add-host",
        "gw:host-gateway",
        "--add-host",
        "db:10.1.2.3",
        "--hostname",
        "h1",
        "--ip",
        "10.87.3.4",
        "--mac-address",
        "02:42:00:00:00:42",
        "busybox",
        "sh",
        "-c",
        "cat /etc/resolv.conf /etc/hosts; cat /sys/class/net/eth0/address",
    ]);
    for want in [
        "nameserver 192.0.2.9\n",
        "search x.example\n",
        "options ndots:2\n",
        "10.87.3.4\th1\n",
        "10.87.0.1\tgw\n",
        "10.1.2.3\tdb\n",
        "02:42:00:00:00:42\n",
    ] {
        assert!(files.contains(want), "{want:?} not in {files}");
    }
    // container:NAME shares the other's namespace and files.
    httpd(&e, &["--name", "web", "--hostname", "webhost"]);
    let cmd = "timeout 3 wget -q -O - http://127.0.0.1/hostname; exit $?";
    eventually("httpd", || {
        e.run(&[
            "run",
            "--rm",
            "--network",
            "container:web",
            "busybox",
            "sh",
            "-c",
            cmd,
        ])
        .status
        .success()
    });
    let shared = e.ok(&[
        "run",
        "--rm",
        "--network",
        "container:web",
        "busybox",
        "hostname",
    ]);
    assert_eq!(shared, "webhost\n");
    e.ok(&["rm", "-f", "web"]);
    eventually("the DNS server leaves", || dns_servers(&e).is_empty());
    assert_eq!(leftovers(&e), Vec::<String>::new());
    e.assert_clean();
}

#[test]
fn bandwidth_is_limited_on_both_ends() {
    let e = Engine::new();
    e.ok(&[
        "run",
        "-d",
        "--name",
        "slow",
        "--network-opt",
        "bandwidth=10mbit",
        "busybox",
        "sleep",
        "60",
    ]);
    let veth = e.inspect("slow")["NetworkSettings"]["Networks"]["bridge"]["EndpointID"]
        .as_str()
        .unwrap()
        .to_string();
    let host_side = sh(&format!("tc qdisc show dev {veth}"));
    assert!(
        host_side.contains("tbf") && host_side.contains("rate 10Mbit"),
        "{host_side}"
    );
    let inner = inside(&netns(&e, "slow"), || sh("tc qdisc show dev eth0"));
    assert!(
        inner.contains("tbf") && inner.contains("rate 10Mbit"),
        "{inner}"
    );
    e.ok(&["rm", "-f", "slow"]);
    assert_eq!(leftovers(&e), Vec::<String>::new());
    e.assert_clean();
}

#[test]
fn connect_and_disconnect_a_running_container() {
    let e = Engine::new();
    e.ok(&["network", "create", "a"]);
    e.ok(&["network", "create", "b"]);
    httpd(
        &e,
        &["--name", "web", "--hostname", "webhost", "--network", "b"],
    );
    e.ok(&[
        "run",
        "-d",
        "--name",
        "client",
        "--network",
        "a",
        "busybox",
        "sleep",
        "600",
    ]);
    let get = |c: &str| {
        let cmd = "timeout 3 wget -q -O - http://web/hostname; exit $?";
        e.run(&["exec", c, "sh", "-c", cmd])
    };
    assert!(
        !get("client").status.success(),
        "reached b before joining it"
    );
    e.ok(&["network", "connect", "--alias", "cli", "b", "client"]);
    let links = e.ok(&["exec", "client", "ls", "/sys/class/net"]);
    assert_eq!(links, "eth0\neth1\nlo\n");
    eventually("web by name from b", || get("client").status.success());
    assert_eq!(
        String::from_utf8(get("client").stdout).unwrap(),
        "webhost\n"
    );
    let on_b = e.inspect("client")["NetworkSettings"]["Networks"]["b"]["IPAddress"].clone();
    assert!(
        on_b.as_str().is_some_and(|ip| ip.starts_with("10.90.")),
        "{on_b}"
    );
    let err = e.fail(1, &["network", "connect", "b", "client"]);
    assert!(err.contains("already on network b"), "{err}");
    e.ok(&["network", "disconnect", "b", "client"]);
    assert_eq!(
        e.ok(&["exec", "client", "ls", "/sys/class/net"]),
        "eth0\nlo\n"
    );
    assert!(
        !get("client").status.success(),
        "reached b after leaving it"
    );
    let err = e.fail(1, &["network", "disconnect", "b", "client"]);
    assert!(err.contains("not on network b"), "{err}");
    e.ok(&["rm", "-f", "web", "client"]);
    e.ok(&["network", "rm", "a", "b"]);
    assert_eq!(leftovers(&e), Vec::<String>::new());
    e.assert_clean();
}
