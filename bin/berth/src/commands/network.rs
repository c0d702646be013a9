//! `berth network VERB`: create, ls, inspect, rm, prune, connect, disconnect, reload.

use anyhow::Context as _;
use berth_network::{EndpointRequest, NetworkSpec};
use serde_json::json;

use crate::context::Context;
use crate::format::{self, Columns};

/// `berth network VERB`.
#[derive(clap::Subcommand)]
#[command(defer = true)]
pub enum Network {
    /// Create a network (a bridge, with its own subnet and DNS for container names).
    Create(CreateArgs),
    /// List networks.
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Show networks' details as JSON.
    Inspect(InspectArgs),
    /// Remove networks no container uses.
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Remove every network no container uses.
    Prune(PruneArgs),
    /// Put a container on a network (at once if it runs).
    Connect(ConnectArgs),
    /// Take a container off a network.
    Disconnect(DisconnectArgs),
    /// Put berth's firewall rules and bridges back (after `nft flush ruleset`, say).
    Reload,
}

#[derive(clap::Args)]
pub struct CreateArgs {
    /// Subnet in CIDR form (one IPv4 and one IPv6 at most).
    #[arg(long)]
    subnet: Vec<String>,
    /// Gateway of the subnet given before it.
    #[arg(long)]
    gateway: Vec<String>,
    /// Hand out addresses from this part of the subnet.
    #[arg(long)]
    ip_range: Vec<String>,
    /// No route out of the network.
    #[arg(long)]
    internal: bool,
    /// Give the network an IPv6 subnet too.
    #[arg(long)]
    ipv6: bool,
    /// Driver option: mtu=N, com.docker.network.bridge.name=NAME.
    #[arg(short, long = "opt", value_name = "KEY=VALUE")]
    opt: Vec<String>,
    /// A label: KEY=VALUE.
    #[arg(long)]
    label: Vec<String>,
    /// Only bridge networks exist.
    #[arg(short, long, default_value = "bridge", value_parser = ["bridge"])]
    driver: String,
    name: String,
}

#[derive(clap::Args)]
pub struct LsArgs {
    /// Print only network IDs.
    #[arg(short, long)]
    quiet: bool,
    /// Do not cut IDs short.
    #[arg(long)]
    no_trunc: bool,
    /// `table`, `json` or a Go template (.ID .Name .Driver .Scope .Subnet .Internal).
    #[arg(long)]
    format: Option<String>,
}

#[derive(clap::Args)]
pub struct InspectArgs {
    #[arg(required = true)]
    networks: Vec<String>,
}

#[derive(clap::Args)]
pub struct RmArgs {
    #[arg(required = true)]
    networks: Vec<String>,
}

#[derive(clap::Args)]
pub struct PruneArgs {
    /// Do not ask (berth never asks).
    #[arg(short, long)]
    force: bool,
}

#[derive(clap::Args)]
pub struct ConnectArgs {
    /// IPv4 address on the network.
    #[arg(long)]
    ip: Option<String>,
    /// IPv6 address on the network.
    #[arg(long)]
    ip6: Option<String>,
    /// Another name of the container on the network.
    #[arg(long)]
    alias: Vec<String>,
    network: String,
    container: String,
}

#[derive(clap::Args)]
pub struct DisconnectArgs {
    /// Accepted for docker's sake.
    #[arg(short, long)]
    force: bool,
    network: String,
    container: String,
}

fn ip(flag: &str, s: Option<String>) -> anyhow::Result<Option<std::net::IpAddr>> {
    s.map(|v| {
        v.parse()
            .with_context(|| format!("{flag} {v:?}: not an IP address"))
    })
    .transpose()
}

const COLUMNS: Columns = Columns {
    default: "{{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}",
    headers: &[
        ("ID", "NETWORK ID"),
        ("Name", "NAME"),
        ("Driver", "DRIVER"),
        ("Scope", "SCOPE"),
        ("Subnet", "SUBNET"),
        ("Internal", "INTERNAL"),
    ],
};

pub fn run(n: Network, ctx: &Context) -> anyhow::Result<()> {
    let engine = ctx.engine()?;
    match n {
        Network::Create(a) => {
            let net = engine.network_create(&NetworkSpec {
                name: a.name,
                subnets: a.subnet,
                gateways: a.gateway,
                ranges: a.ip_range,
                internal: a.internal,
                ipv6: a.ipv6,
                options: a.opt,
                labels: a.label,
                ..Default::default()
            })?;
            println!("{}", net.id);
        }
        Network::Ls(a) => {
            let mut items = Vec::new();
            for n in engine.network_list()? {
                let subnets: Vec<String> = n.subnets.iter().map(|s| s.subnet.to_string()).collect();
                items.push((n.id, n.name, "bridge", subnets.join(","), n.internal));
            }
            // docker's pseudo-networks.
            for (name, driver) in [("host", "host"), ("none", "null")] {
                items.push((name.into(), name.into(), driver, String::new(), false));
            }
            let items: Vec<_> = items
                .into_iter()
                .map(|(id, name, driver, subnet, internal)| {
                    let id = if a.no_trunc {
                        id
                    } else {
                        id.chars().take(12).collect()
                    };
                    json!({"ID": id, "Name": name, "Driver": driver, "Scope": "local",
                           "Subnet": subnet, "Internal": internal})
                })
                .collect();
            if a.quiet {
                for i in &items {
                    println!("{}", i["ID"].as_str().unwrap_or_default());
                }
                return Ok(());
            }
            format::print(a.format.as_deref(), &items, &COLUMNS)?;
        }
        Network::Inspect(a) => {
            let all = a
                .networks
                .iter()
                .map(|n| engine.network_inspect(n))
                .collect::<Result<Vec<_>, _>>()?;
            println!("{}", serde_json::to_string_pretty(&all)?);
        }
        Network::Rm(a) => {
            for n in &a.networks {
                println!("{}", engine.network_remove(n)?);
            }
        }
        Network::Prune(_) => {
            let gone = engine.network_prune()?;
            if !gone.is_empty() {
                println!("Deleted Networks:");
                for n in gone {
                    println!("{n}");
                }
            }
        }
        Network::Connect(a) => {
            let ep = EndpointRequest {
                network: a.network,
                ip: ip("--ip", a.ip)?,
                ip6: ip("--ip6", a.ip6)?,
                mac: None,
                aliases: a.alias,
            };
            engine.network_connect(&a.container, ep)?;
        }
        Network::Disconnect(a) => engine.network_disconnect(&a.container, &a.network)?,
        Network::Reload => engine.network_reload()?,
    }
    Ok(())
}
