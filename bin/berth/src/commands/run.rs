//! `berth run [FLAGS] IMAGE [COMMAND [ARG...]]`: create a container and run it, in the
//! foreground (exit status = the container's) or with `-d` under a monitor.

use anyhow::Context as _;
use berth_engine::health::HealthFlags;
use berth_engine::options::TuningFlags;
use berth_engine::run::Outcome;
use berth_engine::RunOptions;
use berth_image::registry::{self, Platform, PullOptions};
use berth_image::store::{Store, StoreError};
use berth_image::Reference;
use std::path::PathBuf;

use super::update::LimitArgs;
use crate::context::Context;

/// The flags of `run` and `create`.
#[derive(clap::Args)]
pub struct ContainerArgs {
    #[command(flatten)]
    limits: LimitArgs,
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
    /// Bind mount or volume: [HOST-DIR|VOLUME:]CONTAINER-DIR[:OPTIONS] (a volume is made
    /// on first use; without a source, an anonymous volume).
    #[arg(short, long = "volume", value_name = "[SOURCE:]CONTAINER[:OPTIONS]")]
    volume: Vec<String>,
    /// A mount in docker's syntax: type=bind|volume|tmpfs,source=,target=,readonly,
    /// bind-propagation=, bind-recursive=, volume-opt=, volume-label=, volume-nocopy,
    /// tmpfs-size=, tmpfs-mode=.
    #[arg(long = "mount", value_name = "type=TYPE,...")]
    mount: Vec<String>,
    /// Mount the binds and volumes of another container (read-only with :ro).
    #[arg(long = "volumes-from", value_name = "CONTAINER[:ro|rw]")]
    volumes_from: Vec<String>,
    /// Mount a tmpfs: PATH[:OPTIONS].
    #[arg(long)]
    tmpfs: Vec<String>,
    /// Host name of the container (default: the first 12 digits of its id).
    #[arg(short = 'h', long)]
    hostname: Option<String>,
    /// NIS domain name of the container.
    #[arg(long)]
    domainname: Option<String>,
    /// Write the container's id to this file (which must not exist).
    #[arg(long)]
    cidfile: Option<PathBuf>,
    /// An OCI annotation for the runtime: KEY=VALUE.
    #[arg(long)]
    annotation: Vec<String>,
    /// cgroup namespace: private (default) or host.
    #[arg(long)]
    cgroupns: Option<String>,
    /// How readily the kernel swaps the container's memory out (0 to 100).
    #[arg(long)]
    memory_swappiness: Option<u64>,
    /// Do not let the OOM killer end the container's processes.
    #[arg(long)]
    oom_kill_disable: bool,
    /// Read rate limit of a block device: DEVICE:RATE (/dev/vda:1mb).
    #[arg(long)]
    device_read_bps: Vec<String>,
    /// Write rate limit of a block device: DEVICE:RATE.
    #[arg(long)]
    device_write_bps: Vec<String>,
    /// Read IO operations per second of a block device: DEVICE:N.
    #[arg(long)]
    device_read_iops: Vec<String>,
    /// Write IO operations per second of a block device: DEVICE:N.
    #[arg(long)]
    device_write_iops: Vec<String>,
    /// Block IO weight of a device: DEVICE:WEIGHT (10 to 1000).
    #[arg(long)]
    blkio_weight_device: Vec<String>,
    /// A health check: a shell command, healthy when it exits 0.
    #[arg(long)]
    health_cmd: Option<String>,
    /// Time between health checks (30s).
    #[arg(long)]
    health_interval: Option<String>,
    /// How long a check may take (30s).
    #[arg(long)]
    health_timeout: Option<String>,
    /// Failures in a row that make the container unhealthy (3).
    #[arg(long)]
    health_retries: Option<u32>,
    /// A start-up time in which failures do not count until a check passes (0s).
    #[arg(long)]
    health_start_period: Option<String>,
    /// No health check, not even the image's.
    #[arg(long)]
    no_healthcheck: bool,
    /// The OCI runtime: berth runs containers with its own runtime core, named berth.
    #[arg(long, value_parser = ["berth", "berth-runtime"])]
    runtime: Option<String>,
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
    /// Network: bridge (the default network), a network's name, none (loopback only),
    /// host, or container:NAME; repeat to join several networks; a network with its own
    /// settings: name=NET[,alias=A][,ip=IP][,ip6=IP][,mac-address=MAC].
    #[arg(long, alias = "net", value_name = "NETWORK")]
    network: Vec<String>,
    /// Publish a container port: [IP:][HOST_PORT:]CONTAINER_PORT[/tcp|udp|sctp].
    #[arg(short, long, value_name = "PORTS")]
    publish: Vec<String>,
    /// Publish every port the image exposes on a free host port.
    #[arg(short = 'P', long)]
    publish_all: bool,
    /// Offer a port (or range) besides the image's: PORT[-PORT][/tcp|udp|sctp]; -P publishes
    /// it.
    #[arg(long, value_name = "PORTS")]
    expose: Vec<String>,
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
    /// Read environment variables from a file of KEY=VALUE lines.
    #[arg(long = "env-file", value_name = "FILE")]
    env_file: Vec<PathBuf>,
    /// Set a label: KEY=VALUE.
    #[arg(short = 'l', long = "label", value_name = "KEY=VALUE")]
    label: Vec<String>,
    /// Read labels from a file of KEY=VALUE lines.
    #[arg(long = "label-file", value_name = "FILE")]
    label_file: Vec<PathBuf>,
    /// Size of /dev/shm (default 64m).
    #[arg(long)]
    shm_size: Option<String>,
    /// The process's OOM score adjustment (-1000 to 1000).
    #[arg(long, allow_negative_numbers = true)]
    oom_score_adj: Option<i32>,
    /// A resource limit: NAME=SOFT[:HARD] (nofile=1024:2048).
    #[arg(long)]
    ulimit: Vec<String>,
    /// A namespaced kernel parameter: KEY=VALUE.
    #[arg(long)]
    sysctl: Vec<String>,
    /// A host device, HOST[:CONTAINER[:PERMISSIONS]], or a CDI device, VENDOR/CLASS=NAME
    /// (nvidia.com/gpu=all).
    #[arg(long)]
    device: Vec<String>,
    /// NVIDIA GPUs, found on the host without a toolkit: all, a count, or device=INDEX|UUID,...
    #[arg(long)]
    gpus: Option<String>,
    /// A device cgroup rule: 'TYPE MAJOR:MINOR ACCESS' ('c 1:3 rwm').
    #[arg(long)]
    device_cgroup_rule: Vec<String>,
    /// seccomp=PROFILE|unconfined, no-new-privileges[=true|false], label=disable.
    #[arg(long)]
    security_opt: Vec<String>,
    /// An additional group (name in the image's /etc/group, or gid).
    #[arg(long)]
    group_add: Vec<String>,
    /// PID namespace: host, private, or container:NAME.
    #[arg(long)]
    pid: Option<String>,
    /// IPC namespace: host, private, or container:NAME.
    #[arg(long)]
    ipc: Option<String>,
    /// UTS namespace: host, private, or container:NAME.
    #[arg(long)]
    uts: Option<String>,
    /// Run berth's small init as PID 1: it reaps orphans and forwards signals.
    #[arg(long)]
    init: bool,
    /// The signal `stop` sends first (default: the image's, else SIGTERM).
    #[arg(long)]
    stop_signal: Option<String>,
    /// Seconds `stop` waits before SIGKILL (default 10).
    #[arg(long, allow_negative_numbers = true)]
    stop_timeout: Option<i64>,
    /// Pull the image first: missing (default: when the store lacks it), always, never.
    #[arg(long, value_enum, default_value = "missing")]
    pull: PullPolicy,
    /// The image's platform (os/arch[/variant]); default: this host's.
    #[arg(long)]
    platform: Option<Platform>,
    /// Print nothing while pulling.
    #[arg(short, long)]
    quiet: bool,
    /// Image (name or ID), then the command and its arguments (default: the image's). As in
    /// docker, flags end at the image: what follows it is the command's.
    #[arg(value_name = "IMAGE [COMMAND [ARG...]]", required = true, num_args = 1.., trailing_var_arg = true)]
    image_and_command: Vec<String>,
}

/// `--pull`, as docker's.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PullPolicy {
    // `true` and `false`: docker's `build --pull[=BOOL]`.
    #[value(alias = "false")]
    Missing,
    #[value(alias = "true")]
    Always,
    Never,
}

impl ContainerArgs {
    /// Pulls the image as `--pull` says, as docker's client does before it creates (the
    /// engine itself never pulls); checks that the image is of `--platform`.
    pub fn pull_image(&self, ctx: &Context, store: &Store) -> anyhow::Result<()> {
        let Some(reference) = self.image_and_command.first() else {
            return Ok(());
        };
        let platform = self.platform.clone().unwrap_or_else(Platform::host);
        ensure_image(ctx, store, reference, self.pull, &platform, self.quiet).map(drop)
    }

    /// The engine's options, with the global `--cgroup-manager` of `ctx`.
    pub fn options(self, detach: bool, ctx: &Context) -> RunOptions {
        let mut words = self.image_and_command.into_iter();
        let mut o = RunOptions {
            image: words.next().unwrap_or_default(),
            command: words.collect(),
            name: self.name,
            detach,
            remove: self.rm,
            volatile: false,
            env: self.env,
            workdir: self.workdir,
            user: self.user,
            entrypoint: self.entrypoint,
            volumes: self.volume,
            mounts: self.mount,
            volumes_from: self.volumes_from,
            tmpfs: self.tmpfs,
            hostname: self.hostname,
            read_only: self.read_only,
            privileged: self.privileged,
            cap_add: self.cap_add,
            cap_drop: self.cap_drop,
            network: self.network,
            publish: self.publish,
            publish_all: self.publish_all,
            expose: self.expose,
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
            cgroup_manager: ctx.cgroup_manager.clone(),
            tty: self.tty,
            interactive: self.interactive,
            log_driver: self.log_driver,
            log_opts: self.log_opt,
            tuning: TuningFlags {
                shm_size: self.shm_size,
                oom_score_adj: self.oom_score_adj,
                ulimits: self.ulimit,
                sysctls: self.sysctl,
                devices: self.device,
                gpus: self.gpus,
                device_cgroup_rules: self.device_cgroup_rule,
                security_opts: self.security_opt,
                group_add: self.group_add,
                memory_swappiness: self.memory_swappiness,
                oom_kill_disable: self.oom_kill_disable,
                device_read_bps: self.device_read_bps,
                device_write_bps: self.device_write_bps,
                device_read_iops: self.device_read_iops,
                device_write_iops: self.device_write_iops,
                blkio_weight_device: self.blkio_weight_device,
                cgroupns: self.cgroupns,
                annotations: self.annotation,
                pid: self.pid,
                ipc: self.ipc,
                uts: self.uts,
                ..Default::default()
            },
            labels: self.label,
            label_files: self.label_file,
            env_files: self.env_file,
            init: self.init,
            stop_signal: self.stop_signal,
            stop_timeout: self.stop_timeout,
            restart: self.limits.restart,
            domainname: self.domainname,
            cidfile: self.cidfile,
            health: HealthFlags {
                cmd: self.health_cmd,
                exec: None,
                interval: self.health_interval,
                timeout: self.health_timeout,
                start_period: self.health_start_period,
                retries: self.health_retries,
                none: self.no_healthcheck,
            },
            // The limits, set next.
            ..Default::default()
        };
        self.limits.resources.apply(&mut o);
        o
    }
}

/// Create a container from an image and run it.
#[derive(clap::Args)]
#[command(disable_help_flag = true)]
pub struct Args {
    /// Print help (-h is --hostname, as in docker).
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// Run in the background and print the container's id.
    #[arg(short, long)]
    detach: bool,
    #[command(flatten)]
    container: ContainerArgs,
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<i32> {
    let engine = ctx.engine()?;
    a.container.pull_image(ctx, engine.store())?;
    match engine.run(&a.container.options(a.detach, ctx), &ctx.monitor_command())? {
        Outcome::Detached(id) => {
            println!("{id}");
            Ok(0)
        }
        Outcome::Exited(code) => Ok(code),
    }
}

/// The image `reference` names, pulled first as `pull` says (as docker's client does
/// before it creates: the engine itself never pulls); checked to be of `platform`.
pub fn ensure_image(
    ctx: &Context,
    store: &Store,
    reference: &str,
    pull: PullPolicy,
    platform: &Platform,
    quiet: bool,
) -> anyhow::Result<berth_image::store::Image> {
    let have = store.image(reference);
    let missing = matches!(have, Err(StoreError::NotFound(_)));
    let pull = match pull {
        PullPolicy::Always => true,
        PullPolicy::Missing => missing,
        PullPolicy::Never => false,
    };
    let image = match pull {
        true => {
            let r = Reference::parse(reference)?;
            let opts = PullOptions {
                platform: platform.clone(),
                config: ctx.registry_config(true)?,
                parallel: 4,
            };
            let progress = crate::progress::for_stderr(quiet);
            registry::pull(store, &r, &opts, progress.as_ref()).with_context(|| match missing {
                true => format!("image {reference} is not in the store, and pulling {r} failed"),
                false => format!("pulling {r}"),
            })?
        }
        false => have?,
    };
    let (os, arch) = (
        image.config.os().to_string(),
        image.config.architecture().to_string(),
    );
    if !platform.matches(&os, &arch, image.config.variant().as_deref()) {
        anyhow::bail!("image {reference} is {os}/{arch}, not --platform {platform}");
    }
    Ok(image)
}
