//! `exec`.

use anyhow::{Context, Result};
use berth_container::exec::{exec, ExecOptions};
use berth_container::Runtime;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Unix socket that receives the pty master with --tty.
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Working directory of the new process.
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Set an environment variable (NAME=value); repeatable.
    #[arg(short, long)]
    pub env: Vec<String>,
    /// Give the process a terminal.
    #[arg(short, long)]
    pub tty: bool,
    /// UID[:GID] to run as.
    #[arg(short, long)]
    pub user: Option<String>,
    /// Additional group ids; repeatable.
    #[arg(short = 'g', long)]
    pub additional_gids: Vec<u32>,
    /// A process.json describing the process (replaces the command line and flags).
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    /// Return once the process runs.
    #[arg(short, long)]
    pub detach: bool,
    /// Write the process's pid to this file.
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// SELinux label (not supported here: an error if set).
    #[arg(long)]
    pub process_label: Option<String>,
    /// AppArmor profile (not supported here: an error if set).
    #[arg(long)]
    pub apparmor: Option<String>,
    /// Set no_new_privs for the process (`=false` clears it; without the flag the process
    /// has the container's setting, as with runc).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub no_new_privs: Option<bool>,
    /// Add a capability; repeatable.
    #[arg(short, long)]
    pub cap: Vec<String>,
    /// Pass this many extra fds (3, 4, ...) into the process.
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
    /// Run in this sub-cgroup of the container's (cgroup v2).
    #[arg(long)]
    pub cgroup: Option<String>,
    /// Exec into a paused container too; the process runs once it is resumed.
    #[arg(long)]
    pub ignore_paused: bool,
    /// The container id.
    pub id: String,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// Returns the process's exit status (foreground) or 0 (detached).
pub fn run(rt: &Runtime, a: &ExecArgs) -> Result<i32> {
    super::hold_gaps(a.preserve_fds)?;
    let o = ExecOptions {
        id: a.id.clone(),
        process_file: a.process.clone(),
        args: a.command.clone(),
        tty: a.tty,
        console_socket: a.console_socket.clone(),
        detach: a.detach,
        pid_file: a.pid_file.clone(),
        cwd: a.cwd.clone(),
        env: a.env.clone(),
        user: a.user.clone(),
        additional_gids: a.additional_gids.clone(),
        caps: a.cap.clone(),
        no_new_privs: a.no_new_privs,
        preserve_fds: a.preserve_fds,
        process_label: a.process_label.clone(),
        apparmor: a.apparmor.clone(),
        cgroup: a.cgroup.clone(),
        ignore_paused: a.ignore_paused,
        started: None,
    };
    exec(rt, &o).with_context(|| format!("exec {}", a.id))
}
