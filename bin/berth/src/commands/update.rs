//! `berth update [FLAGS] CONTAINER...`: new cgroup limits and restart policy for containers,
//! running or not.

use berth_engine::options::UpdateOptions;
use berth_engine::RunOptions;

use crate::context::Context;

/// Change containers' resource limits and restart policy.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    limits: LimitArgs,
    /// Containers (names or ids).
    #[arg(required = true)]
    containers: Vec<String>,
}

/// The flags `run` and `create` share with `update`: what can change later.
#[derive(clap::Args)]
pub struct LimitArgs {
    #[command(flatten)]
    pub resources: ResourceArgs,
    /// Start it again when it ends: no, on-failure[:N], always, unless-stopped.
    #[arg(long)]
    pub restart: Option<String>,
}

/// The cgroup limits (`build` gives them to its steps' containers).
#[derive(clap::Args)]
pub struct ResourceArgs {
    /// Memory limit (e.g. 64m, 1g).
    #[arg(short, long)]
    memory: Option<String>,
    /// Memory plus swap limit (-1: unlimited swap).
    #[arg(long, allow_negative_numbers = true)]
    memory_swap: Option<String>,
    /// Memory soft limit.
    #[arg(long)]
    memory_reservation: Option<String>,
    /// Number of CPUs (e.g. 0.5).
    #[arg(long, allow_negative_numbers = true)]
    cpus: Option<String>,
    /// CFS period in microseconds (instead of --cpus).
    #[arg(long)]
    cpu_period: Option<u64>,
    /// CFS quota in microseconds per period, -1 for none (instead of --cpus).
    #[arg(long, allow_negative_numbers = true)]
    cpu_quota: Option<i64>,
    /// CPU shares (relative weight, 2 to 262144).
    #[arg(short = 'c', long)]
    cpu_shares: Option<u64>,
    /// CPUs the container may run on (0-3, 0,1).
    #[arg(long)]
    cpuset_cpus: Option<String>,
    /// Memory nodes the container may use (0-3, 0,1).
    #[arg(long)]
    cpuset_mems: Option<String>,
    /// Block IO weight (10 to 1000).
    #[arg(long)]
    blkio_weight: Option<u16>,
    /// Most processes the container may have (-1: no limit).
    #[arg(long, allow_negative_numbers = true)]
    pids_limit: Option<i64>,
}

impl LimitArgs {
    pub fn options(self) -> UpdateOptions {
        UpdateOptions {
            restart: self.restart,
            ..self.resources.options()
        }
    }
}

impl ResourceArgs {
    pub fn options(self) -> UpdateOptions {
        UpdateOptions {
            memory: self.memory,
            memory_swap: self.memory_swap,
            memory_reservation: self.memory_reservation,
            cpus: self.cpus,
            cpu_period: self.cpu_period,
            cpu_quota: self.cpu_quota,
            cpu_shares: self.cpu_shares,
            cpuset_cpus: self.cpuset_cpus,
            cpuset_mems: self.cpuset_mems,
            blkio_weight: self.blkio_weight,
            pids_limit: self.pids_limit,
            restart: None,
        }
    }

    /// Sets these limits in `o`, as `run` takes them.
    pub fn apply(self, o: &mut RunOptions) {
        let t = &mut o.tuning;
        o.memory = self.memory;
        o.cpus = self.cpus;
        o.pids_limit = self.pids_limit;
        t.memory_swap = self.memory_swap;
        t.memory_reservation = self.memory_reservation;
        t.cpu_shares = self.cpu_shares;
        t.cpuset_cpus = self.cpuset_cpus;
        t.cpuset_mems = self.cpuset_mems;
        t.blkio_weight = self.blkio_weight;
        t.cpu_period = self.cpu_period;
        t.cpu_quota = self.cpu_quota;
    }
}

pub fn run(a: Args, ctx: &Context) -> anyhow::Result<()> {
    let options = a.limits.options();
    anyhow::ensure!(
        !options.is_empty(),
        "update: give at least one flag to change (see berth update --help)"
    );
    let engine = ctx.engine()?;
    for c in &a.containers {
        engine.update_container(c, &options)?;
        println!("{c}");
    }
    Ok(())
}
