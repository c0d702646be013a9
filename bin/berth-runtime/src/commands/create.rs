//! `create`.

use anyhow::{Context, Result};
use berth_container::create::{create, CreateOptions};
use berth_container::Runtime;
use clap::Args;
use std::path::PathBuf;

/// Options shared by `create` and `run`.
#[derive(Args, Debug, Clone)]
pub struct CommonCreate {
    /// Bundle directory (holding config.json); default: the current directory.
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    /// Read this config (relative to the current directory) instead of BUNDLE/config.json.
    #[arg(short = 'f', long)]
    pub config: Option<PathBuf>,
    /// Unix socket that receives the pty master when process.terminal is true.
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Write the container's init pid to this file.
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// Use MS_MOVE and chroot instead of pivot_root (for ramfs roots).
    #[arg(long)]
    pub no_pivot: bool,
    /// Do not give the container a session keyring of its own.
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Pass this many extra fds (3, 4, ...) into the container.
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
    /// The container id.
    pub id: String,
}

impl CommonCreate {
    pub fn options(&self) -> Result<CreateOptions> {
        let listen_fds = super::listen_fds();
        super::hold_gaps(self.preserve_fds + listen_fds)?;
        Ok(CreateOptions {
            id: self.id.clone(),
            bundle: self.bundle.clone(),
            config: self.config.clone(),
            pid_file: self.pid_file.clone(),
            console_socket: self.console_socket.clone(),
            no_pivot: self.no_pivot,
            no_new_keyring: self.no_new_keyring,
            preserve_fds: self.preserve_fds + listen_fds,
            listen_fds,
            // As runc: the loopback of a new network namespace is the caller's business.
            loopback_up: false,
        })
    }
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    #[command(flatten)]
    pub common: CommonCreate,
}

pub fn run(rt: &Runtime, a: &CreateArgs) -> Result<()> {
    create(rt, &a.common.options()?).with_context(|| format!("create {}", a.common.id))
}
