//! Containers on networks: the engine's side of berth-network. `create` checks the
//! networks, addresses and ports it is asked for; the attendant prepares the attachment
//! (addresses, host ports, `/etc/hosts` and `resolv.conf`) before the runtime makes the
//! container, connects it once its namespace exists, and tears it down when it ends; `rm`
//! and the recovery of a crashed container tear down whatever is left. The attachment's
//! record is `network.json` in the container's directory.

use crate::config::hosts_text;
use crate::options::{Network, Settings};
use crate::record::{is_id, Record, State};
use crate::start::{helper_program, launch_detached};
use crate::{Engine, Error};
use berth_network::attach::{Attachment, Caller, EndpointRequest, Request};
use berth_network::forward;
use berth_network::home::Purpose;
use berth_network::ports::{Mapping, PortSpec, Proto};
use berth_network::{Network as Net, DEFAULT_NETWORK};
use std::ffi::OsStr;
use std::fs::File;
use std::io::Read;
use std::net::IpAddr;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

/// The container's record of what the network made for it, in its directory.
pub(crate) const NETWORK_RECORD: &str = "network.json";

/// The engine as berth-network sees it: who still holds what they were given, and how to
/// start a DNS server.
pub(crate) struct Holders<'a>(pub(crate) &'a Engine);

impl Caller for Holders<'_> {
    /// A container that runs, or whose start is under way (its lock is held).
    fn live(&self, owner: &str) -> bool {
        let c = &self.0.containers;
        if !is_id(owner) || !c.dir(owner).is_dir() {
            return false;
        }
        match c.load(owner) {
            Ok(Some(r)) if r.state == State::Running => true,
            _ => matches!(c.lock(owner, false), Ok(None)) && c.dir(owner).is_dir(),
        }
    }

    fn records(&self) -> Vec<PathBuf> {
        self.0
            .containers
            .ids()
            .unwrap_or_default()
            .iter()
            .map(|id| self.0.network_record(id))
            .filter(|p| p.exists())
            .collect()
    }

    /// `berth-monitor --root ROOT --config CONFIG dns-server NAME`, detached like a monitor.
    fn start_dns(&self, name: &str) -> std::io::Result<()> {
        let e = self.0;
        let program = helper_program();
        let root = e.containers.base().parent().unwrap_or(Path::new("/"));
        let mut args: Vec<&OsStr> = vec![OsStr::new("--root"), root.as_os_str()];
        if let Some(c) = &e.config_dir {
            args.extend([OsStr::new("--config"), c.as_os_str()]);
        }
        args.extend([OsStr::new("dns-server"), OsStr::new(name)]);
        let mut reader =
            launch_detached(&program, args).map_err(|e| std::io::Error::other(e.to_string()))?;
        let mut word = String::new();
        reader.read_to_string(&mut word)?;
        match word.as_str() {
            "ok" => Ok(()),
            "" => Err(std::io::Error::other("it exited at once")),
            why => Err(std::io::Error::other(why.to_string())),
        }
    }
}

/// A rootless berth's bridges are in its home namespace, whose way to the host's name
/// servers (loopback stubs included) is pasta's forwarder: the name server of its
/// containers and of its DNS servers, unless berth's configuration names others.
pub(crate) fn rootless_defaults(mut c: berth_network::Config) -> berth_network::Config {
    if crate::rootless::active() && c.dns.is_empty() {
        c.dns = vec![berth_network::pasta::DNS];
    }
    c
}

/// A rootless berth's runtime directory (`$XDG_RUNTIME_DIR/berth`).
fn rootless_run() -> Result<PathBuf, Error> {
    crate::rootless::run_dir().map(|(run, _)| run).map_err(|e| {
        Error::io("the rootless runtime directory")(std::io::Error::other(e.to_string()))
    })
}

/// The body of `berth port-forward PID_FILE FORWARD...` (hidden), a rootless berth's
/// forwarder of a container's published ports (see `berth_network::forward`): it binds the
/// host's ports, joins the user's home network namespace, records its pid, says "ok" on
/// the handshake fd (or why it cannot), and serves until it is ended.
pub fn port_forwarder(pid_file: &Path, specs: &[String]) -> Result<(), Error> {
    let _ = berth_sys::process::set_name(c"berth-ports");
    let mut handshake = crate::monitor::take_handshake()?;
    let ready = || -> Result<_, Error> {
        let forwards = specs
            .iter()
            .map(|s| {
                forward::Forward::parse(s).ok_or_else(|| Error::Io {
                    what: format!("forward {s:?}"),
                    source: std::io::Error::other("not HOST:PORT=CONTAINER:PORT"),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let listeners = forward::listen(&forwards).map_err(Error::io("port forwarder"))?;
        let home = berth_network::home::existing(&rootless_run()?).ok_or_else(|| {
            Error::io("the rootless network namespace")(std::io::Error::other("it is gone"))
        })?;
        // Still one thread: the whole process moves; the listeners stay in the user's.
        berth_sys::ns::setns(home.as_fd(), libc::CLONE_NEWNET)
            .map_err(Error::io("joining the rootless network namespace"))?;
        let tmp = pid_file.with_extension("tmp");
        std::fs::write(&tmp, std::process::id().to_string())
            .and_then(|()| std::fs::rename(&tmp, pid_file))
            .map_err(Error::path(pid_file))?;
        Ok(listeners)
    };
    match (ready(), handshake.take()) {
        (Ok(listeners), h) => {
            if let Some(mut h) = h {
                let _ = std::io::Write::write_all(&mut h, b"ok");
            }
            forward::serve(listeners);
            Ok(())
        }
        (Err(e), Some(mut h)) => {
            let _ = std::io::Write::write_all(&mut h, e.to_string().as_bytes());
            Err(e)
        }
        (Err(e), None) => Err(e),
    }
}

/// The body of `berth dns-server NETWORK` (hidden), the DNS server of a network (see
/// `berth_network::dns`): "ok" on the handshake fd once it listens, or why it cannot.
pub fn dns_server(root: &Path, config: &Path, network: &str) -> Result<(), Error> {
    let _ = berth_sys::process::set_name(c"berth-dns");
    let mut handshake = crate::monitor::take_handshake()?;
    let served = Engine::open(root)
        .and_then(|e| e.with_network_config(config))
        .and_then(|e| {
            Ok(berth_network::dns::serve(
                &e.networks,
                network,
                handshake.take(),
            )?)
        });
    if let (Some(mut h), Err(e)) = (handshake, &served) {
        let _ = std::io::Write::write_all(&mut h, e.to_string().as_bytes());
    }
    served
}

impl Engine {
    /// Takes the network settings (the default network, the subnet pool, name servers)
    /// from `network.toml` in berth's configuration directory `dir`, when there is one.
    pub fn with_network_config(mut self, dir: &Path) -> Result<Engine, Error> {
        self.networks.config =
            rootless_defaults(berth_network::Config::load(&dir.join("network.toml"))?);
        self.config_dir = Some(dir.to_path_buf());
        Ok(self)
    }

    pub(crate) fn network_record(&self, id: &str) -> PathBuf {
        self.containers.dir(id).join(NETWORK_RECORD)
    }

    /// The network `name` names (the default network is made when first asked for).
    fn network(&self, name: &str) -> Result<Net, Error> {
        Ok(match name {
            DEFAULT_NETWORK => self.networks.default_network()?,
            _ => self
                .networks
                .definitions()
                .find(name)
                .map_err(berth_network::Error::from)?,
        })
    }

    /// At create: the networks exist, `--ip` is in their subnet, `-P` becomes the image's
    /// and `--expose`'s ports, and `container:NAME` names a container (by id from now on; it must
    /// run when this one starts). Returns, for the latter, its directory, whose /etc files
    /// it shares.
    pub(crate) fn plan_network(
        &self,
        s: &mut Settings,
        exposed: &[String],
    ) -> Result<Option<PathBuf>, Error> {
        match s.network {
            Network::Bridge => {
                for ep in &mut s.net.endpoints {
                    self.check_endpoint(ep)?;
                }
                publish_all(s, exposed);
                if crate::rootless::active() {
                    if let Some(p) = s.net.ports.iter().find(|p| p.proto != Proto::Tcp) {
                        let why = "a rootless berth forwards tcp ports only on bridge \
                                   networks (its default network, pasta, carries udp too)";
                        let port = format!("{}/{}", p.container.first, p.proto);
                        return Err(crate::options::bad("--publish", &port, why).into());
                    }
                }
                Ok(None)
            }
            // pasta will not run as the host's root; root has bridges.
            Network::Pasta | Network::Slirp4netns if !crate::rootless::active() => {
                let name = if s.network == Network::Pasta {
                    "pasta"
                } else {
                    "slirp4netns"
                };
                let why = "a rootless berth's network: root's containers use bridge networks";
                Err(crate::options::bad("--network", name, format!("{name} is {why}")).into())
            }
            Network::Pasta | Network::Slirp4netns => {
                publish_all(s, exposed);
                Ok(None)
            }
            Network::Container => {
                let target = s.net.join.clone().unwrap_or_default();
                let id = self.containers.resolve(&target).map_err(|e| {
                    crate::options::bad("--network", &format!("container:{target}"), e.to_string())
                })?;
                s.net.join = Some(id.clone());
                Ok(Some(self.containers.dir(&id)))
            }
            Network::None | Network::Host => Ok(None),
        }
    }

    /// Checks that endpoint `ep`'s network exists (and names it by its name) and that its
    /// addresses fit it.
    pub(crate) fn check_endpoint(&self, ep: &mut EndpointRequest) -> Result<Net, Error> {
        let n = self.network(&ep.network)?;
        ep.network = n.name.clone();
        for (flag, ip) in [("--ip", ep.ip), ("--ip6", ep.ip6)] {
            let Some(ip) = ip else { continue };
            let fits = n
                .subnet_for(ip.is_ipv6())
                .is_some_and(|sub| sub.subnet.contains(&ip) && ip != sub.gateway);
            if !fits {
                return Err(Error::Network(berth_network::Error::Bad {
                    flag,
                    value: ip.to_string(),
                    reason: format!("not a free host address of network {}", n.name),
                }));
            }
        }
        Ok(n)
    }

    /// The names container `r` answers to on user-defined networks: its name, its short
    /// id, its host name.
    pub(crate) fn dns_names(&self, r: &Record) -> Vec<String> {
        let hostname = std::fs::read_to_string(self.containers.dir(&r.id).join("hostname"))
            .unwrap_or_default();
        let mut names = vec![r.name.clone(), r.id[..12].to_string()];
        let hostname = hostname.trim().to_string();
        if !hostname.is_empty() && !names.contains(&hostname) {
            names.push(hostname);
        }
        names
    }

    /// Before the runtime makes container `r`: what an earlier, crashed start left is torn
    /// down; on bridge networks addresses and ports are taken and the /etc files written.
    /// (`container:NAME` is joined with the other shared namespaces, see attend.rs.)
    pub(crate) fn network_start(&self, r: &Record) -> Result<Option<Attachment>, Error> {
        self.network_stop(&r.id)?;
        let user_net = match r.settings.network {
            Network::Bridge => None,
            n @ (Network::Pasta | Network::Slirp4netns) => n.user_net(),
            Network::None | Network::Host | Network::Container => return Ok(None),
        };
        let s = &r.settings.net;
        let names = self.dns_names(r);
        let a = self.networks.prepare(
            &Request {
                owner: &r.id,
                names: &names,
                dns: &s.dns,
                endpoints: &s.endpoints,
                ports: &s.ports,
                bandwidth: s.bandwidth,
                user_net,
            },
            &self.network_record(&r.id),
            &Holders(self),
        )?;
        self.write_etc(r, &a).inspect_err(|_| {
            let _ = self.network_stop(&r.id);
        })?;
        Ok(Some(a))
    }

    /// Runs `f` where berth's bridges are: in this thread for root (the host's network
    /// namespace); for a rootless berth on a thread in the user's home namespace
    /// (`berth_network::home`), made first if missing (with its pasta for
    /// [`Purpose::Attach`]), so that every socket `f` opens and every process or sysctl it
    /// makes belong there. Then a home no container uses any
    /// more (after the last one's teardown, or a `network rm` that had to make it) is ended.
    pub(crate) fn at_bridges<T: Send>(
        &self,
        purpose: Purpose,
        f: impl FnOnce() -> Result<T, Error> + Send,
    ) -> Result<T, Error> {
        if !crate::rootless::active() {
            return f();
        }
        let run = rootless_run()?;
        let home = berth_network::home::open(&run, purpose)?;
        let done = std::thread::scope(|s| {
            s.spawn(|| {
                berth_sys::ns::setns(home.as_fd(), libc::CLONE_NEWNET)
                    .map_err(Error::io("joining the rootless network namespace"))?;
                f()
            })
            .join()
            .unwrap_or_else(|_| {
                Err(Error::io("the rootless network namespace")(
                    std::io::Error::other("its thread panicked"),
                ))
            })
        });
        let released = berth_network::home::release(&run, || self.networks.any_in_use());
        let value = done?;
        released?;
        Ok(value)
    }

    /// Once a container's namespaces exist (its init is `pid`): on bridge networks (`a`)
    /// its interfaces, routes and published ports. (With `--network none` its init sets
    /// loopback up itself: `CreateOptions::loopback_up`.)
    pub(crate) fn network_plug(&self, a: Option<&Attachment>, pid: i32) -> Result<(), Error> {
        let Some(a) = a else { return Ok(()) };
        let path = format!("/proc/{pid}/ns/net");
        let ns = File::open(&path).map_err(Error::path(&path))?;
        let record = self.network_record(&a.owner);
        let connect = || {
            Ok(self
                .networks
                .connect(a, &record, ns.as_fd(), &Holders(self))?)
        };
        if a.user_net.is_some() {
            return connect();
        }
        self.at_bridges(Purpose::Attach, connect)?;
        match crate::rootless::active() && !a.ports.is_empty() {
            true => self.start_forwarder(a, &record),
            false => Ok(()),
        }
    }

    /// A rootless berth's published ports on a bridge network: `berth port-forward`, from
    /// the user's namespace into the home (`berth_network::forward`); returns once it
    /// listens.
    fn start_forwarder(&self, a: &Attachment, record: &Path) -> Result<(), Error> {
        let Some(ip) = a.endpoints.iter().find_map(|e| e.ip(false)) else {
            return Err(Error::Failed {
                name: a.owner.clone(),
                reason: "published ports need an IPv4 address on a network".into(),
            });
        };
        let pid_file = forward::pid_file(record);
        let specs: Vec<String> = forward::forwards(&a.ports, ip)
            .iter()
            .map(forward::Forward::spec)
            .collect();
        let root = self.containers.base().parent().unwrap_or(Path::new("/"));
        let mut args: Vec<&OsStr> = vec![
            OsStr::new("--root"),
            root.as_os_str(),
            OsStr::new("port-forward"),
            pid_file.as_os_str(),
        ];
        args.extend(specs.iter().map(OsStr::new));
        let mut reader = launch_detached(&helper_program(), args)?;
        let mut word = String::new();
        reader
            .read_to_string(&mut word)
            .map_err(Error::io("the port forwarder's answer"))?;
        match word.as_str() {
            "ok" => Ok(()),
            why => Err(Error::Failed {
                name: a.owner.clone(),
                reason: match why {
                    "" => "the port forwarder exited at once".into(),
                    why => format!("port forwarder: {why}"),
                },
            }),
        }
    }

    /// Removes what the network made for container `id`; safe to repeat.
    pub(crate) fn network_stop(&self, id: &str) -> Result<(), Error> {
        let record = self.network_record(id);
        let teardown = || Ok(self.networks.teardown(&record)?);
        if !crate::rootless::active() {
            return teardown();
        }
        match Attachment::load(&record) {
            Ok(Some(a)) if a.user_net.is_none() => self.at_bridges(Purpose::Tidy, teardown),
            _ => teardown(),
        }
    }

    /// `/etc/hosts` (its addresses, `--add-host`) and `resolv.conf`, rewritten in place:
    /// the container's bind mounts keep seeing them.
    pub(crate) fn write_etc(&self, r: &Record, a: &Attachment) -> Result<(), Error> {
        let dir = self.containers.dir(&r.id);
        let hostname = std::fs::read_to_string(dir.join("hostname"))
            .map_err(Error::path(dir.join("hostname")))?;
        let addrs: Vec<IpAddr> = a
            .endpoints
            .iter()
            .flat_map(|e| [e.ip(false), e.ip(true)])
            .flatten()
            .collect();
        let gateway = a.endpoints.iter().flat_map(|e| &e.gateways).next().copied();
        let extra: Vec<(String, IpAddr)> = r
            .settings
            .net
            .add_hosts
            .iter()
            .filter_map(|h| {
                let ip = match h.ip.as_str() {
                    "host-gateway" => gateway?,
                    ip => ip.parse().ok()?,
                };
                Some((h.name.clone(), ip))
            })
            .collect();
        let hosts = dir.join("hosts");
        std::fs::write(&hosts, hosts_text(hostname.trim(), &addrs, &extra))
            .map_err(Error::path(&hosts))?;
        let resolv = dir.join("resolv.conf");
        let n = &r.settings.net;
        // pasta and slirp4netns answer at their own address for the host's resolvers,
        // loopback ones included.
        let dns = match (a.user_net, n.dns.is_empty()) {
            (Some(u), true) => vec![u.dns()],
            _ => n.dns.clone(),
        };
        let text = self
            .networks
            .resolv_conf(a, &dns, &n.dns_search, &n.dns_options);
        std::fs::write(&resolv, text).map_err(Error::path(&resolv))
    }

    /// What the network made for container `id`, while it runs.
    pub fn attachment(&self, id: &str) -> Option<Attachment> {
        Attachment::load(&self.network_record(id)).ok().flatten()
    }

    /// `NetworkSettings` of `inspect`, shaped as docker's: the first network's addresses at
    /// the top, every network under `Networks`, the published ports under `Ports`.
    pub(crate) fn network_settings(&self, r: &Record) -> serde_json::Value {
        use serde_json::json;
        let a = self.attachment(&r.id).unwrap_or_default();
        let mut networks = serde_json::Map::new();
        for name in r.settings.net.endpoints.iter().map(|e| &e.network) {
            let ep = a.endpoints.iter().find(|e| &e.network == name);
            let addr =
                |v6: bool| ep.and_then(|e| e.addresses.iter().find(|n| n.addr().is_ipv6() == v6));
            let gw = |v6: bool| ep.and_then(|e| e.gateways.iter().find(|g| g.is_ipv6() == v6));
            networks.insert(
                name.clone(),
                json!({
                    "NetworkID": ep.map(|e| e.network_id.as_str()).unwrap_or(""),
                    "EndpointID": ep.map(|e| e.veth.as_str()).unwrap_or(""),
                    "IPAddress": addr(false).map(|n| n.addr().to_string()).unwrap_or_default(),
                    "IPPrefixLen": addr(false).map_or(0, |n| n.prefix_len()),
                    "Gateway": gw(false).map(ToString::to_string).unwrap_or_default(),
                    "GlobalIPv6Address": addr(true).map(|n| n.addr().to_string()).unwrap_or_default(),
                    "GlobalIPv6PrefixLen": addr(true).map_or(0, |n| n.prefix_len()),
                    "IPv6Gateway": gw(true).map(ToString::to_string).unwrap_or_default(),
                    "MacAddress": ep.map(|e| e.mac.as_str()).unwrap_or(""),
                    "Aliases": ep.map(|e| e.aliases.clone()).unwrap_or_default(),
                }),
            );
        }
        let mut ports = serde_json::Map::new();
        for m in &a.ports {
            let key = format!("{}/{}", m.port, m.proto);
            let host_ip = m.host_ip.map_or("0.0.0.0".into(), |ip| ip.to_string());
            let binding = json!({"HostIp": host_ip, "HostPort": m.host_port.to_string()});
            match ports.get_mut(&key).and_then(|v| v.as_array_mut()) {
                Some(list) => list.push(binding),
                None => {
                    ports.insert(key, json!([binding]));
                }
            }
        }
        let first = r
            .settings
            .net
            .endpoints
            .first()
            .and_then(|e| networks.get(&e.network))
            .cloned()
            .unwrap_or(json!({}));
        json!({
            "IPAddress": first["IPAddress"],
            "IPPrefixLen": first["IPPrefixLen"],
            "Gateway": first["Gateway"],
            "GlobalIPv6Address": first["GlobalIPv6Address"],
            "IPv6Gateway": first["IPv6Gateway"],
            "MacAddress": first["MacAddress"],
            "Ports": ports,
            "Networks": networks,
        })
    }

    /// `berth port`: the published ports of the container `what` names.
    pub fn ports(&self, what: &str) -> Result<Vec<Mapping>, Error> {
        let r = self.container(what)?;
        Ok(self.attachment(&r.id).map(|a| a.ports).unwrap_or_default())
    }
}

/// `-P`: the image's and `--expose`'s ports join those published (a port published with
/// `-p` keeps that binding, as in docker).
fn publish_all(s: &mut Settings, exposed: &[String]) {
    if !s.net.publish_all {
        return;
    }
    let image = exposed.iter().filter_map(|e| PortSpec::exposed(e).ok());
    for p in image.chain(s.net.exposed.clone()) {
        let bound = s
            .net
            .ports
            .iter()
            .any(|q| (q.proto, q.container) == (p.proto, p.container));
        if !bound {
            s.net.ports.push(p);
        }
    }
}
