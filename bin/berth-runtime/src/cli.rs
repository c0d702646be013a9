//! The command line, as runc spells it.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// `--version`, shaped like runc's and crun's: version, spec version, then crun's line of
/// `+FEATURE`s (tools such as crun's test suite read it). SYSTEMD: sd_notify through
/// `NOTIFY_SOCKET` and the systemd cgroup driver (`--systemd-cgroup`).
const LONG_VERSION: &str = const_format::formatcp!(
    "version {}\nspec: {}\n+SYSTEMD +SECCOMP +CAP +EBPF +IDMAP",
    env!("CARGO_PKG_VERSION"),
    berth_container::SPEC_VERSION
);

#[derive(Parser, Debug)]
#[command(
    name = "berth-runtime",
    version,
    long_version = LONG_VERSION,
    about = "An OCI runtime with runc's command line"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct Global {
    /// Directory for container state (default /run/berth-runtime, or $XDG_RUNTIME_DIR/berth-runtime
    /// when rootless).
    #[arg(long, global = true)]
    pub root: Option<PathBuf>,
    /// Also write errors and warnings to this file.
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Format of the log file: text or json.
    #[arg(long, global = true, default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
    /// Log debug messages too.
    #[arg(long, global = true)]
    pub debug: bool,
    /// Have systemd make each container's cgroup, a transient scope (linux.cgroupsPath is
    /// then slice:prefix:name).
    #[arg(long, global = true)]
    pub systemd_cgroup: bool,
    /// Rootless mode: true, false or auto (auto: when not root).
    #[arg(long, global = true, default_value = "auto", num_args = 0..=1, default_missing_value = "true", value_parser = ["true", "false", "auto"])]
    pub rootless: String,
    /// Where CDI specs are read for the devices the cdi.k8s.io/* annotations name (default
    /// /etc/cdi and /var/run/cdi, the latter first); may be given more than once.
    #[arg(long = "cdi-spec-dir", global = true, value_name = "DIR")]
    pub cdi_spec_dirs: Vec<PathBuf>,
    /// crun's spelling of the cgroup driver: cgroupfs or systemd.
    #[arg(long, global = true, hide = true)]
    pub cgroup_manager: Option<String>,
    /// Accepted for runc compatibility; checkpointing is not supported.
    #[arg(long, global = true, hide = true)]
    pub criu: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a container from a bundle; its process waits for `start`.
    Create(crate::commands::create::CreateArgs),
    /// Start a created container.
    Start(crate::commands::start::StartArgs),
    /// Print the state of a container as JSON.
    State(crate::commands::state::StateArgs),
    /// Send a signal to a container's process (default SIGTERM).
    Kill(crate::commands::kill::KillArgs),
    /// Delete a container and what it holds.
    Delete(crate::commands::delete::DeleteArgs),
    /// Create and start a container; in the foreground, wait and exit with its status.
    Run(crate::commands::run::RunArgs),
    /// Run another process in a running container.
    Exec(Box<crate::commands::exec::ExecArgs>),
    /// List containers.
    List(crate::commands::list::ListArgs),
    /// Write a default config.json.
    Spec(crate::commands::spec::SpecArgs),
    /// Print what this runtime supports, as JSON.
    Features,
    /// Change the resource limits of a container.
    Update(Box<crate::commands::update::UpdateArgs>),
    /// Suspend every process of a container.
    Pause(crate::commands::pause::PauseArgs),
    /// Resume the processes of a paused container.
    Resume(crate::commands::resume::ResumeArgs),
    /// Print a container's stats and OOM events as JSON, once or as a stream.
    Events(crate::commands::events::EventsArgs),
    /// List the processes of a container.
    Ps(crate::commands::ps::PsArgs),
}
