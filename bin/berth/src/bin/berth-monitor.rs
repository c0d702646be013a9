//! `berth-monitor`: berth's long-lived helpers in a binary of their own. A detached
//! container's monitor, a network's DNS server and a rootless container's port forwarder
//! live as long as their container or network, one each: this binary loads no registry, TLS or command-line code, so each costs
//! a fraction of what `berth` with its hidden subcommands would (docs/BENCHMARKS.md, "Engine
//! operations"). The container's health checks run from here too, since the monitor starts
//! them.
//!
//!     berth-monitor --root ROOT --config CONFIG monitor [--wait-attach] ID
//!     berth-monitor --root ROOT --config CONFIG dns-server NETWORK
//!     berth-monitor --root ROOT [--config CONFIG] healthcheck CONTAINER
//!     berth-monitor --root ROOT port-forward PID_FILE FORWARD...
//!
//! The same words work with `berth`, which is what runs when this binary is not installed
//! beside it. Only berth starts it: a mistake is one line and exit status 125.

use std::ffi::OsString;
use std::path::PathBuf;

fn main() {
    let code = match Args::parse(std::env::args_os().skip(1)) {
        Ok(a) => a.run().unwrap_or_else(|e| {
            eprintln!("berth-monitor: {e}");
            e.run_status()
        }),
        Err(e) => {
            eprintln!("berth-monitor: {e}");
            125
        }
    };
    std::process::exit(code)
}

/// What to run, and on which store.
struct Args {
    root: PathBuf,
    verb: Verb,
}

enum Verb {
    Monitor {
        config: PathBuf,
        wait_attach: bool,
        id: String,
    },
    DnsServer {
        config: PathBuf,
        network: String,
    },
    Healthcheck {
        config: Option<PathBuf>,
        container: String,
    },
    PortForward {
        pid_file: PathBuf,
        forwards: Vec<String>,
    },
}

impl Args {
    fn parse(mut args: impl Iterator<Item = OsString>) -> Result<Args, String> {
        let (mut root, mut config) = (None, None);
        let mut word = |what: &str| -> Result<String, String> {
            args.next()
                .and_then(|a| a.into_string().ok())
                .ok_or_else(|| format!("{what} is missing"))
        };
        let needs = |c: Option<PathBuf>| c.ok_or("--config is missing");
        let verb = loop {
            match word("a command")?.as_str() {
                "--root" => root = Some(PathBuf::from(word("--root's value")?)),
                "--config" => config = Some(PathBuf::from(word("--config's value")?)),
                "monitor" => {
                    let mut id = word("the container's id")?;
                    let wait_attach = id == "--wait-attach";
                    if wait_attach {
                        id = word("the container's id")?;
                    }
                    let config = needs(config)?;
                    break Verb::Monitor {
                        config,
                        wait_attach,
                        id,
                    };
                }
                "dns-server" => {
                    let network = word("the network")?;
                    let config = needs(config)?;
                    break Verb::DnsServer { config, network };
                }
                "healthcheck" => {
                    let container = word("the container")?;
                    break Verb::Healthcheck { config, container };
                }
                "port-forward" => {
                    let pid_file = PathBuf::from(word("the pid file")?);
                    let forwards: Vec<String> = std::iter::from_fn(|| word("").ok()).collect();
                    if forwards.is_empty() {
                        return Err("the forwards are missing".into());
                    }
                    break Verb::PortForward { pid_file, forwards };
                }
                other => return Err(format!("unknown argument {other:?}")),
            }
        };
        if let Ok(extra) = word("") {
            return Err(format!("unexpected argument {extra:?}"));
        }
        let root = root.ok_or("--root is missing")?;
        Ok(Args { root, verb })
    }

    /// Runs the verb; the exit status is what `berth` gives for the same words.
    fn run(self) -> Result<i32, berth_engine::Error> {
        match self.verb {
            Verb::Monitor {
                config,
                wait_attach,
                id,
            } => berth_engine::monitor::monitor(&self.root, &config, &id, wait_attach),
            Verb::DnsServer { config, network } => {
                berth_engine::dns_server(&self.root, &config, &network).map(|()| 0)
            }
            Verb::PortForward { pid_file, forwards } => {
                berth_engine::port_forwarder(&pid_file, &forwards).map(|()| 0)
            }
            Verb::Healthcheck { config, container } => {
                let engine = berth_engine::Engine::open(&self.root)?;
                let engine = match &config {
                    Some(c) => engine.with_network_config(c)?,
                    None => engine,
                };
                match engine.health_check(&container)? {
                    Some(status) if status != "unhealthy" => Ok(0),
                    Some(_) => Ok(1),
                    // `berth healthcheck` fails the same way.
                    None => Ok(125),
                }
            }
        }
    }
}
