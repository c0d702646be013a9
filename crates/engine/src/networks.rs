//! `berth network ...`: create, list, inspect, remove, prune, connect, disconnect and reload
//! networks. A network is in use while a container (in any state) names it, or holds an
//! address on it.

use crate::network::Holders;
use crate::options::Network;
use crate::record::State;
use crate::{Engine, Error};
use berth_network::attach::{EndpointRequest, Request};
use berth_network::home::Purpose;
use berth_network::{Network as Net, NetworkSpec, DEFAULT_NETWORK};
use serde_json::{json, Value};

/// Names docker reserves: the default network and the two pseudo-networks.
const PREDEFINED: [&str; 3] = [DEFAULT_NETWORK, "host", "none"];

fn predefined(name: &str) -> Error {
    Error::Network(berth_network::Error::Network(
        berth_network::networks::NetworkError::Predefined(name.to_string()),
    ))
}

impl Engine {
    /// `network create`: a user-defined network, with embedded DNS. The default network is
    /// made first if missing, so that no user network takes its subnet.
    pub fn network_create(&self, spec: &NetworkSpec) -> Result<Net, Error> {
        if PREDEFINED.contains(&spec.name.as_str()) {
            return Err(predefined(&spec.name));
        }
        self.networks.default_network()?;
        let spec = NetworkSpec {
            dns: true,
            bridge: None,
            ..spec.clone()
        };
        Ok(self.networks.create(&spec)?)
    }

    /// Every network (the default one made if it is missing), by name.
    pub fn network_list(&self) -> Result<Vec<Net>, Error> {
        self.networks.default_network()?;
        Ok(self
            .networks
            .definitions()
            .list()
            .map_err(berth_network::Error::from)?)
    }

    fn find_network(&self, what: &str) -> Result<Net, Error> {
        if what == DEFAULT_NETWORK {
            return Ok(self.networks.default_network()?);
        }
        Ok(self
            .networks
            .definitions()
            .find(what)
            .map_err(berth_network::Error::from)?)
    }

    /// The containers that name network `n` or hold an address on it: (id, name).
    fn network_users(&self, n: &Net) -> Result<Vec<(String, String)>, Error> {
        let mut out = Vec::new();
        for id in self.containers.ids()? {
            let Some(r) = self.containers.load(&id)? else {
                continue;
            };
            let names = r.settings.network == Network::Bridge
                && r.settings.net.endpoints.iter().any(|e| e.network == n.name);
            if names {
                out.push((id, r.name));
            }
        }
        let holders = Holders(self);
        for owner in self.networks.users(n)? {
            if !out.iter().any(|(id, _)| *id == owner)
                && berth_network::Caller::live(&holders, &owner)
            {
                out.push((owner.clone(), owner));
            }
        }
        Ok(out)
    }

    /// `network inspect`: docker's shape, with the containers on it.
    pub fn network_inspect(&self, what: &str) -> Result<Value, Error> {
        let n = self.find_network(what)?;
        let mut containers = serde_json::Map::new();
        for (id, name) in self.network_users(&n)? {
            let ep = self
                .attachment(&id)
                .and_then(|a| a.endpoints.into_iter().find(|e| e.network_id == n.id));
            let addr = |v6: bool| {
                ep.as_ref()
                    .and_then(|e| e.addresses.iter().find(|a| a.addr().is_ipv6() == v6))
                    .map(ToString::to_string)
                    .unwrap_or_default()
            };
            containers.insert(
                id.clone(),
                json!({
                    "Name": name,
                    "EndpointID": ep.as_ref().map(|e| e.veth.clone()).unwrap_or_default(),
                    "MacAddress": ep.as_ref().map(|e| e.mac.clone()).unwrap_or_default(),
                    "IPv4Address": addr(false),
                    "IPv6Address": addr(true),
                }),
            );
        }
        let config: Vec<Value> = n
            .subnets
            .iter()
            .map(|s| {
                let mut c = json!({"Subnet": s.subnet, "Gateway": s.gateway});
                if let Some(r) = s.range {
                    c["IPRange"] = json!(r);
                }
                c
            })
            .collect();
        let mut options = serde_json::Map::new();
        // As docker's: a user network's generated bridge name (`br-<id>`) is not an option
        // it was given, and clients (compose) compare these with what they asked for.
        if n.name == DEFAULT_NETWORK || !n.bridge.starts_with("br-") {
            options.insert("com.docker.network.bridge.name".into(), json!(n.bridge));
        }
        if let Some(m) = n.mtu {
            options.insert("com.docker.network.driver.mtu".into(), json!(m.to_string()));
        }
        Ok(json!({
            "Name": n.name,
            "Id": n.id,
            "Created": crate::time::Timestamp::from_unix(n.created),
            "Scope": "local",
            "Driver": "bridge",
            "EnableIPv6": n.ipv6(),
            "IPAM": {"Driver": "default", "Config": config},
            "Internal": n.internal,
            "DNS": n.dns,
            "Containers": containers,
            "Options": options,
            "Labels": n.labels,
        }))
    }

    /// `network rm`: refused for the default network and for one in use; returns its name.
    pub fn network_remove(&self, what: &str) -> Result<String, Error> {
        if PREDEFINED.contains(&what) {
            return Err(predefined(what));
        }
        let n = self.find_network(what)?;
        if let Some((_, owner)) = self.network_users(&n)?.into_iter().next() {
            return Err(Error::Network(berth_network::Error::InUse {
                name: n.name,
                owner,
            }));
        }
        self.at_bridges(Purpose::Tidy, || Ok(self.networks.remove(&n)?))?;
        Ok(n.name)
    }

    /// `network prune`: every user-defined network nobody uses; their names.
    pub fn network_prune(&self) -> Result<Vec<String>, Error> {
        let mut gone = Vec::new();
        for n in self.network_list()? {
            if n.name != DEFAULT_NETWORK && self.network_users(&n)?.is_empty() {
                self.at_bridges(Purpose::Tidy, || Ok(self.networks.remove(&n)?))?;
                gone.push(n.name);
            }
        }
        Ok(gone)
    }

    /// `network connect`: container `what` joins network `net` (at once if it runs, else at
    /// its next start) with `ep`'s address and aliases.
    pub fn network_connect(&self, what: &str, mut ep: EndpointRequest) -> Result<(), Error> {
        let id = self.containers.resolve(what)?;
        let gone = || Error::NoSuchContainer(what.to_string());
        let _lock = self.containers.lock(&id, true)?.ok_or_else(gone)?;
        let mut r = self.refresh_locked(&id)?.ok_or_else(gone)?;
        let n = self.check_endpoint(&mut ep)?;
        if r.settings.network != Network::Bridge {
            return Err(Error::Failed {
                name: r.name,
                reason: "it shares the host's or another container's network, or has none: \
                         it cannot join networks"
                    .into(),
            });
        }
        if r.settings.net.endpoints.iter().any(|e| e.network == n.name) {
            return Err(Error::Failed {
                name: r.name,
                reason: format!("already on network {}", n.name),
            });
        }
        if r.state == State::Running {
            let pid = self.init(&id)?.map_or(0, |o| o.pid);
            let path = format!("/proc/{pid}/ns/net");
            let ns = std::fs::File::open(&path).map_err(Error::path(&path))?;
            let names = self.dns_names(&r);
            let req = Request {
                owner: &id,
                names: &names,
                dns: &r.settings.net.dns,
                endpoints: std::slice::from_ref(&ep),
                ..Default::default()
            };
            let a = self.at_bridges(Purpose::Attach, || {
                Ok(self.networks.join(
                    &self.network_record(&id),
                    &req,
                    std::os::fd::AsFd::as_fd(&ns),
                    &Holders(self),
                )?)
            })?;
            self.write_etc(&r, &a)?;
        }
        r.settings.net.endpoints.push(ep);
        Ok(self.containers.save(&r)?)
    }

    /// `network disconnect`: container `what` leaves network `net`.
    pub fn network_disconnect(&self, what: &str, net: &str) -> Result<(), Error> {
        let id = self.containers.resolve(what)?;
        let gone = || Error::NoSuchContainer(what.to_string());
        let _lock = self.containers.lock(&id, true)?.ok_or_else(gone)?;
        let mut r = self.refresh_locked(&id)?.ok_or_else(gone)?;
        let n = self.find_network(net)?;
        let Some(i) = r
            .settings
            .net
            .endpoints
            .iter()
            .position(|e| e.network == n.name)
        else {
            return Err(Error::Failed {
                name: r.name,
                reason: format!("not on network {}", n.name),
            });
        };
        if r.state == State::Running {
            let a = self.at_bridges(Purpose::Tidy, || {
                Ok(self
                    .networks
                    .leave(&self.network_record(&id), &n.name, &Holders(self))?)
            })?;
            self.write_etc(&r, &a)?;
        }
        r.settings.net.endpoints.remove(i);
        Ok(self.containers.save(&r)?)
    }

    /// `network reload`: berth's firewall table and the bridges of networks in use put back.
    pub fn network_reload(&self) -> Result<(), Error> {
        self.at_bridges(Purpose::Attach, || {
            Ok(self.networks.reload(&Holders(self))?)
        })
    }
}
