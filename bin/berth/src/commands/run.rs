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
    /// none (default: loopback only) or host.
    #[arg(long, alias = "net")]
    network: Option<String>,
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
            mounts: self.mount,
            volumes_from: self.volumes_from,
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
