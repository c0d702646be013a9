//! berth-runtime under real clients: podman, dockerd, containerd (ctr and its CRI plugin, set
//! up as docs/KUBERNETES.md says).
//! Every test is `#[ignore]`d: `scripts/test.d/60-interop.sh` starts the clients with private
//! state in a private network and mount namespace, exports where they are, and runs these
//! with `--ignored`. The environment it sets:
//!   BERTH_INTEROP_RUNTIME   absolute path of the berth-runtime under test
//!   BERTH_INTEROP_DIR       scratch directory (tmux socket, logs; images/ from
//!                           tests/interop/images.sh; the CRI tests' own containerds)
//!   BERTH_INTEROP_CONTAINERD  the shared containerd's socket (CRI plugin off)
//!   CONTAINERS_CONF, CONTAINERS_STORAGE_CONF, DOCKER_HOST, DOCKER_CONFIG  for podman, docker

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;
mod cri;
mod ctr;
mod engine;
mod proto;

use common::{run_with_timeout, text};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The image every client has loaded (tests/interop/images.sh).
pub const IMAGE: &str = "localhost/busybox:latest";

pub fn env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run scripts/test.d/60-interop.sh"))
}

pub fn runtime() -> String {
    env("BERTH_INTEROP_RUNTIME")
}

/// Runs `program args` in the scratch directory (conmon drops files in its working
/// directory), killed after two minutes.
pub fn sh(program: &str, args: &[&str]) -> Output {
    let mut c = Command::new(program);
    c.args(args)
        .current_dir(env("BERTH_INTEROP_DIR"))
        .stdin(std::process::Stdio::null());
    run_with_timeout(c, Duration::from_secs(120))
}

/// Runs and requires success; returns stdout.
pub fn sh_ok(program: &str, args: &[&str]) -> String {
    let out = sh(program, args);
    assert!(
        out.status.success(),
        "{program} {args:?} failed ({}): {}{}",
        out.status,
        text(&out.stderr),
        text(&out.stdout)
    );
    text(&out.stdout)
}

/// Polls `f` until it returns `Some`, up to `secs` seconds.
pub fn wait_for<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
