//! `berth run [FLAGS] IMAGE [COMMAND [ARG...]]`: create a container and run it, in the
//! foreground (exit status = the container's) or with `-d` under a monitor.

use berth_engine::run::Outcome;
use berth_engine::RunOptions;

use crate::context::Context;

/// The flags of `run` and `create`.
#[derive(clap::Args)]
pub struct ContainerArgs {
    /// Name of the container (default: a generated one).
    #[arg(long)]
    name: Option<String>,
    /// Remove the container when it exits.
    #[arg(long)]
    rm: bool,
    /// Set an environment variable (KEY=VALUE, or KEY to pass berth's value).
    #[arg(short, long = "env", value_name = "KEY[=VALUE]")]
    env: Vec<String>,
    /// Working directory inside the container.
    #[arg(short, long)]
    workdir: Option<String>,
    /// User (name or uid) and group: USER[:GROUP].
    #[arg(short, long)]
    user: Option<String>,
    /// Replace the image's entrypoint ("" clears it; a JSON array gives several words).
    #[arg(long, allow_hyphen_values = true)]
    entrypoint: Option<String>,
    /// Bind mount: HOST:CONTAINER[:ro|rw].
    #[arg(short, long = "volume", value_name = "HOST:CONTAINER[:ro|rw]")]
    volume: Vec<String>,
    /// Mount a tmpfs: PATH[:OPTIONS].
    #[arg(long)]
    tmpfs: Vec<String>,
    /// Host name of the container (default: the first 12 digits of its id).
    #[arg(long)]
    hostname: Option<String>,
    /// Mount the root filesystem read-only.
    #[arg(long)]
    read_only: bool,
    /// All capabilities, no seccomp filter, no masked paths, all devices allowed.
    #[arg(long)]
    privileged: bool,
    /// Add a capability (or ALL).
    #[arg(long)]
    cap_add: Vec<String>,
    /// Drop a capability (or ALL).
    #[arg(long)]
    cap_drop: Vec<String>,
    /// Memory limit (e.g. 64m, 1g).
    #[arg(short, long)]
    memory: Option<String>,
    /// Number of CPUs (e.g. 0.5).
    #[arg(long, allow_negative_numbers = true)]
    cpus: Option<String>,
    /// Most processes the container may have (-1: no limit).
    #[arg(long, allow_negative_numbers = true)]
    pids_limit: Option<i64>,
    /// Network: bridge (the default network), a network's name, none (loopback only),
    /// host, or container:NAME; repeat to join several networks.
    #[arg(long, alias = "net", value_name = "NETWORK")]
    network: Vec<String>,
    /// Publish a container port: [IP:][HOST_PORT:]CONTAINER_PORT[/tcp|udp|sctp].
    #[arg(short, long, value_name = "PORTS")]
    publish: Vec<String>,
    /// Publish every port the image exposes on a free host port.
    #[arg(short = 'P', long)]
    publish_all: bool,
    /// IPv4 address on the first network.
    #[arg(long)]
    ip: Option<String>,
    /// IPv6 address on the first network.
    #[arg(long)]
    ip6: Option<String>,
    /// MAC address on the first network.
    #[arg(long)]
    mac_address: Option<String>,
    /// Another name of the container on its first (user-defined) network.
    #[arg(long, alias = "net-alias", value_name = "NAME")]
    network_alias: Vec<String>,
    /// A name server for the container.
    #[arg(long, value_name = "IP")]
    dns: Vec<String>,
    /// A DNS search domain.
    #[arg(long, value_name = "DOMAIN")]
    dns_search: Vec<String>,
    /// A resolver option (ndots:2, ...).
    #[arg(long, alias = "dns-opt", value_name = "OPTION")]
    dns_option: Vec<String>,
    /// An /etc/hosts line: NAME:IP (IP may be host-gateway).
    #[arg(long, value_name = "NAME:IP")]
    add_host: Vec<String>,
    /// A network option: bandwidth=RATE (10mbit), each way.
    #[arg(long, value_name = "KEY=VALUE")]
    network_opt: Vec<String>,
    /// The cgroup the container's own is made in (default /berth).
    #[arg(long)]
    cgroup_parent: Option<String>,
    /// Give the container a terminal.
    #[arg(short, long)]
    tty: bool,
    /// Keep stdin attached.
    #[arg(short, long)]
    interactive: bool,
    /// Where the output goes: json-file (default), k8s-file, journald, none, passthrough.
    #[arg(long)]
    log_driver: Option<String>,
    /// A log driver option: max-size=SIZE, max-file=N, env=VAR,... (json-file, journald),
    /// tag= (journald).
    #[arg(long = "log-opt", value_name = "KEY=VALUE")]
    log_opt: Vec<String>,
    /// Image (name or ID).
    image: String,
    /// Command and arguments (default: the image's).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

impl ContainerArgs {
    pub fn options(self, detach: bool) -> RunOptions {
        RunOptions {
            image: self.image,
            command: self.command,
            name: self.name,
            detach,
            remove: self.rm,
            env: self.env,
            workdir: self.workdir,
            user: self.user,
            entrypoint: self.entrypoint,
            volumes: self.volume,
            tmpfs: self.tmpfs,
            hostname: self.hostname,
            read_only: self.read_only,
            privileged: self.privileged,
            cap_add: self.cap_add,
            cap_drop: self.cap_drop,
            memory: self.memory,
            cpus: self.cpus,
            pids_limit: self.pids_limit,
            network: self.network,
            publish: self.publish,
            publish_all: self.publish_all,
            ip: self.ip,
            ip6: self.ip6,
            mac_address: self.mac_address,
            network_alias: self.network_alias,
            dns: self.dns,
            dns_search: self.dns_search,
            dns_option: self.dns_option,
            add_host: self.add_host,
            network_opt: self.network_opt,
            cgroup_parent: self.cgroup_parent,
            tty: self.tty,
            interactive: self.interactive,
            log_driver: self.log_driver,
            log_opts: self.log_opt,
        }
    }
}

/// Create a container from an image and run it.
#[derive(clap::Args)]
pub struct Args {
    /// Run in the background and print the container's id.
    #[arg(short, long)]
    detach: bool,
    #[command(flatten)]
    container: ContainerArgs,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<i32> {
    let engine = ctx.engine()?;
    match engine.run(&a.container.options(a.detach), &ctx.monitor_command())? {
        Outcome::Detached(id) => {
            println!("{id}");
            Ok(0)
        }
        Outcome::Exited(code) => Ok(code),
    }
}
