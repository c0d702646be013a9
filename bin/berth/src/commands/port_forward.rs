//! `berth port-forward PID_FILE FORWARD...` (hidden): a rootless berth's forwarder of a
//! container's published ports on a bridge network, started by berth itself; see
//! `berth_network::forward`.

use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    pid_file: PathBuf,
    /// `HOST_IP:PORT=CONTAINER_IP:PORT`.
    #[arg(required = true)]
    forwards: Vec<String>,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    Ok(berth_engine::port_forwarder(&a.pid_file, &a.forwards)?)
}
