//! `--init`: berth-init (a static executable of a few KiB, built from `init/main.rs` and
//! embedded in berth) bind-mounted read-only into the container and run as its PID 1, with
//! the container's command as its arguments, as docker does with its docker-init.

use crate::Error;
use std::path::Path;

/// berth-init's bytes; empty where it is not built (other than x86-64).
const BINARY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/berth-init"));

/// Where it is in the container.
pub const PATH: &str = "/sbin/berth-init";

/// Its file among the shared ones.
pub const FILE: &str = "berth-init";

/// The process's arguments: the command, under berth-init with `init`.
pub(super) fn args(init: bool, command: &[String]) -> Vec<String> {
    match init {
        false => command.to_vec(),
        true => [PATH.to_string(), "--".into()]
            .into_iter()
            .chain(command.iter().cloned())
            .collect(),
    }
}

/// Makes berth-init ready to mount, among the shared files in `shared`.
pub fn install(shared: &Path) -> Result<(), Error> {
    if BINARY.is_empty() {
        return Err(Error::Failed {
            name: "--init".into(),
            reason: "berth-init is not built for this architecture".into(),
        });
    }
    super::shared::ensure(shared, FILE, BINARY, 0o555).map(drop)
}
