//! What putting a container in its cgroup costs on the start path: layout detection,
//! create, apply (memory, pids and cpu limits) and add_process, timed per phase over many
//! fresh cgroups; destroy is timed apart. Needs root. `cargo bench -p berth-cgroups`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_cgroups::{CgroupsPath, Layout, Manager, OwnCgroups};
use oci_spec::runtime::LinuxResources;

const RUNS: usize = 300;

fn main() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("start bench: needs root, skipped");
        return;
    }
    let resources: LinuxResources = serde_json::from_str(
        r#"{"memory":{"limit":268435456},"pids":{"limit":512},"cpu":{"quota":50000,"period":100000}}"#,
    )
    .unwrap();
    // One process moved from cgroup to cgroup stands in for the container's init.
    let mut child = Command::new("sleep")
        .arg("600")
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let names = [
        "detect+new",
        "create",
        "apply",
        "add_process",
        "total",
        "destroy",
    ];
    let mut t: Vec<Vec<Duration>> = vec![Vec::new(); names.len()];
    let mut prev: Option<Manager> = None;
    for i in 0..RUNS {
        let path = format!("/berth-test-bench-{}-{i}", std::process::id());
        let s = Instant::now();
        let layout = Layout::detect().unwrap();
        let p = CgroupsPath::from_spec(Some(Path::new(&path)), "bench").unwrap();
        let m = Manager::new(&layout, &p, &OwnCgroups::default()).unwrap();
        let a = Instant::now();
        m.create().unwrap();
        let b = Instant::now();
        m.apply(&resources).unwrap();
        let c = Instant::now();
        m.add_process(pid).unwrap();
        let d = Instant::now();
        for (k, v) in [a - s, b - a, c - b, d - c, d - s].into_iter().enumerate() {
            t[k].push(v);
        }
        // The process has moved on, so the previous cgroup is empty: remove it.
        if let Some(old) = prev.replace(m) {
            let e = Instant::now();
            old.destroy(false).unwrap();
            t[5].push(e.elapsed());
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let last = prev.unwrap();
    last.destroy(false).unwrap();
    println!(
        "berth-cgroups start path, {RUNS} fresh cgroups, {:?} driver:",
        last.kind()
    );
    for (name, mut v) in names.iter().zip(t) {
        v.sort();
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        println!(
            "  {name:<12} median {:>7.1} us   p90 {:>7.1} us   min {:>7.1} us",
            us(v[v.len() / 2]),
            us(v[v.len() * 9 / 10]),
            us(v[0])
        );
    }
}
