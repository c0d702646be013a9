//! The network and volume endpoints: what `berth network` and `berth volume` do.

use crate::body::{self, Reply};
use crate::error::ApiError;
use crate::query::Query;
use crate::{no_content, Service};
use berth_engine::filters::{label_matches, Filters};
use berth_engine::volumes::VolumeSpec;
use berth_network::{EndpointRequest, NetworkSpec};
use http::StatusCode;
use hyper::body::Incoming;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct NetworkCreate {
    name: String,
    driver: String,
    internal: bool,
    #[serde(rename = "EnableIPv6")]
    enable_ipv6: bool,
    #[serde(rename = "IPAM")]
    ipam: Option<Ipam>,
    options: Option<BTreeMap<String, String>>,
    labels: Option<BTreeMap<String, String>>,
    ingress: bool,
    config_from: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Ipam {
    driver: String,
    config: Option<Vec<IpamPool>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct IpamPool {
    subnet: String,
    #[serde(rename = "IPRange")]
    ip_range: String,
    gateway: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Connect {
    container: String,
    endpoint_config: Option<crate::create::Endpoint>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct VolumeCreate {
    name: String,
    driver: String,
    driver_opts: Option<BTreeMap<String, String>>,
    labels: Option<BTreeMap<String, String>>,
}

/// docker's pseudo-networks, which `GET /networks` lists beside the bridges.
const PSEUDO: [(&str, &str); 2] = [("host", "host"), ("none", "null")];

fn pseudo_json(name: &str, driver: &str) -> Value {
    json!({"Name": name, "Id": name, "Scope": "local", "Driver": driver, "EnableIPv6": false,
           "IPAM": {"Driver": "default", "Config": []}, "Internal": false,
           "Containers": {}, "Options": {}, "Labels": {}})
}

fn ip(field: &str, s: &str) -> Result<Option<IpAddr>, ApiError> {
    match s {
        "" => Ok(None),
        s => s
            .parse()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("{field}: {s:?} is not an IP address"))),
    }
}

/// Whether a network's JSON passes filter `key=value` (name, id, label, driver, type).
fn network_passes(n: &Value, key: &str, value: &str) -> bool {
    let text = |k: &str| n[k].as_str().unwrap_or_default().to_string();
    match key {
        "name" => text("Name").contains(value),
        "id" => text("Id").starts_with(value),
        "driver" => text("Driver") == value,
        "type" => {
            match PSEUDO.iter().any(|(p, _)| text("Name") == *p) || text("Name") == "bridge" {
                true => value == "builtin",
                false => value == "custom",
            }
        }
        "label" => {
            let labels: BTreeMap<String, String> =
                serde_json::from_value(n["Labels"].clone()).unwrap_or_default();
            label_matches(&labels, value)
        }
        _ => false,
    }
}

impl Service {
    pub(crate) async fn networks(self: Arc<Self>, q: Query) -> Result<Reply, ApiError> {
        let filters = Filters::group(q.filters()?);
        let list = self
            .blocking(|e, _| {
                let mut out = Vec::new();
                for n in e.network_list()? {
                    out.push(e.network_inspect(&n.id)?);
                }
                out.extend(PSEUDO.iter().map(|(n, d)| pseudo_json(n, d)));
                Ok(out)
            })
            .await?;
        let list = list
            .into_iter()
            .filter(|n| filters.keep(|k, v| network_passes(n, k, v)))
            .collect();
        Ok(body::ok(&Value::Array(list)))
    }

    pub(crate) async fn network(self: Arc<Self>, name: &str) -> Result<Reply, ApiError> {
        if let Some((n, d)) = PSEUDO.iter().find(|(n, _)| *n == name) {
            return Ok(body::ok(&pseudo_json(n, d)));
        }
        let name = name.to_string();
        let v = self
            .blocking(move |e, _| Ok(e.network_inspect(&name)?))
            .await?;
        Ok(body::ok(&v))
    }

    pub(crate) async fn network_create(self: Arc<Self>, b: Incoming) -> Result<Reply, ApiError> {
        let c: NetworkCreate = body::read_json(b).await?;
        if c.name.is_empty() {
            return Err(ApiError::bad_request("network create: Name is required"));
        }
        if !matches!(c.driver.as_str(), "" | "bridge") {
            return Err(ApiError::not_supported(&format!(
                "network driver {:?}",
                c.driver
            )));
        }
        if c.ingress || c.config_from.is_some() {
            return Err(ApiError::not_supported(
                "swarm networks (Ingress, ConfigFrom)",
            ));
        }
        let ipam = c.ipam.unwrap_or_default();
        if !matches!(ipam.driver.as_str(), "" | "default") {
            return Err(ApiError::not_supported(&format!(
                "IPAM driver {:?}",
                ipam.driver
            )));
        }
        let pools = ipam.config.unwrap_or_default();
        let nonempty = |f: fn(&IpamPool) -> &String| {
            pools
                .iter()
                .map(f)
                .filter(|s| !s.is_empty())
                .cloned()
                .collect::<Vec<_>>()
        };
        let spec = NetworkSpec {
            name: c.name,
            subnets: nonempty(|p| &p.subnet),
            gateways: nonempty(|p| &p.gateway),
            ranges: nonempty(|p| &p.ip_range),
            internal: c.internal,
            ipv6: c.enable_ipv6,
            options: pairs(c.options),
            labels: pairs(c.labels),
            ..Default::default()
        };
        let id = self
            .blocking(move |e, _| Ok(e.network_create(&spec)?.id))
            .await?;
        Ok(body::json(
            StatusCode::CREATED,
            &json!({"Id": id, "Warning": ""}),
        ))
    }

    pub(crate) async fn network_remove(self: Arc<Self>, name: &str) -> Result<Reply, ApiError> {
        let name = name.to_string();
        self.blocking(move |e, _| {
            e.network_remove(&name)?;
            Ok(no_content())
        })
        .await
    }

    pub(crate) async fn network_prune(self: Arc<Self>) -> Result<Reply, ApiError> {
        let gone = self.blocking(|e, _| Ok(e.network_prune()?)).await?;
        Ok(body::ok(&json!({"NetworksDeleted": gone})))
    }

    pub(crate) async fn network_connect(
        self: Arc<Self>,
        name: &str,
        b: Incoming,
        connect: bool,
    ) -> Result<Reply, ApiError> {
        let c: Connect = body::read_json(b).await?;
        if c.container.is_empty() {
            return Err(ApiError::bad_request("Container is required"));
        }
        let network = name.to_string();
        let ep = c.endpoint_config.unwrap_or_default();
        let ipam = ep.ipam_config.unwrap_or_default();
        let request = EndpointRequest {
            network: network.clone(),
            ip: ip("IPAMConfig.IPv4Address", &ipam.ipv4)?,
            ip6: ip("IPAMConfig.IPv6Address", &ipam.ipv6)?,
            mac: (!ep.mac_address.is_empty()).then_some(ep.mac_address),
            aliases: ep.aliases.unwrap_or_default(),
        };
        self.blocking(move |e, _| {
            match connect {
                true => e.network_connect(&c.container, request)?,
                false => e.network_disconnect(&c.container, &network)?,
            }
            Ok(body::status(StatusCode::OK))
        })
        .await
    }

    pub(crate) async fn volumes(self: Arc<Self>, q: Query) -> Result<Reply, ApiError> {
        let filters = Filters::group(q.filters()?);
        let list = self.blocking(|e, _| Ok(e.volumes()?)).await?;
        let list: Vec<Value> = list
            .iter()
            .filter(|v| {
                filters.keep(|k, want| match k {
                    "name" => v.volume.name.contains(want),
                    "driver" => v.volume.driver == want,
                    "label" => label_matches(&v.volume.spec.labels, want),
                    "dangling" => (want == "true" || want == "1") == v.containers.is_empty(),
                    _ => false,
                })
            })
            .map(|v| v.inspect_json())
            .collect();
        Ok(body::ok(&json!({"Volumes": list, "Warnings": []})))
    }

    pub(crate) async fn volume(self: Arc<Self>, name: &str) -> Result<Reply, ApiError> {
        let name = name.to_string();
        let v = self.blocking(move |e, _| Ok(e.volume(&name)?)).await?;
        Ok(body::ok(&v.inspect_json()))
    }

    pub(crate) async fn volume_create(self: Arc<Self>, b: Incoming) -> Result<Reply, ApiError> {
        let c: VolumeCreate = body::read_json(b).await?;
        let spec = VolumeSpec {
            labels: c.labels.unwrap_or_default(),
            options: c.driver_opts.unwrap_or_default(),
        };
        let v = self
            .blocking(move |e, _| {
                let name = (!c.name.is_empty()).then_some(c.name.as_str());
                let driver = (!c.driver.is_empty()).then_some(c.driver.as_str());
                let made = e.create_volume(name, driver, &spec)?;
                Ok(e.volume(&made.name)?)
            })
            .await?;
        Ok(body::json(StatusCode::CREATED, &v.inspect_json()))
    }

    pub(crate) async fn volume_remove(
        self: Arc<Self>,
        name: &str,
        q: Query,
    ) -> Result<Reply, ApiError> {
        let (name, force) = (name.to_string(), q.flag("force"));
        self.blocking(move |e, _| {
            e.remove_volume(&name, force)?;
            Ok(no_content())
        })
        .await
    }

    pub(crate) async fn volume_prune(self: Arc<Self>, q: Query) -> Result<Reply, ApiError> {
        let pairs = q.filters()?;
        let all = pairs
            .iter()
            .any(|(k, v)| k == "all" && (v == "true" || v == "1"));
        let filters = Filters::group(pairs.into_iter().filter(|(k, _)| k != "all"));
        let gone = self
            .blocking(move |e, _| {
                Ok(e.prune_volumes(all, &|v| {
                    filters.keep(|k, want| k == "label" && label_matches(&v.spec.labels, want))
                })?)
            })
            .await?;
        let space: u64 = gone.iter().map(|(_, s)| s).sum();
        Ok(body::ok(&json!({
            "VolumesDeleted": gone.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            "SpaceReclaimed": space,
        })))
    }
}

fn pairs(m: Option<BTreeMap<String, String>>) -> Vec<String> {
    m.unwrap_or_default()
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect()
}
