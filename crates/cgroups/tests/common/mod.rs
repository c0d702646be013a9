//! Shared pieces of the real-kernel tests: a cgroup guard that always cleans up and checks
//! nothing of ours is left, child processes placed in the cgroup before they start work, and
//! reaping of the grandchildren they leave (PID 1 on the CI host does not reap orphans).

#![allow(dead_code)] // each test binary uses a different part of this module

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use berth_cgroups::{CgroupsPath, Layout, Manager, OwnCgroups};
use oci_spec::runtime::LinuxResources;

pub fn res(json: &str) -> LinuxResources {
    serde_json::from_str(json).unwrap()
}

/// Skips (returns true, with a note) when not root: these tests need to create cgroups.
pub fn not_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        eprintln!("skipped: needs root");
    }
    !root
}

/// Every top-level directory a test may create, in every mounted hierarchy.
pub fn mount_points() -> Vec<PathBuf> {
    Manager::new(
        &Layout::detect().unwrap(),
        &CgroupsPath::Absolute("x".into()),
        &OwnCgroups::default(),
    )
    .unwrap()
    .mounts()
    .into_iter()
    .map(|m| m.mount_point)
    .collect()
}

/// A test cgroup at `/berth-test-<pid>-<name>/ctr`: the manager under test owns `ctr`; the
/// parent shows that destroy leaves parents alone, and the guard removes it. Dropping the
/// guard kills and removes everything and, unless the test already failed, asserts that
/// no directory of this name is left in any hierarchy.
pub struct TestCgroup {
    pub m: Manager,
    pub top: String,
}

impl TestCgroup {
    pub fn new(name: &str) -> TestCgroup {
        set_subreaper();
        let top = format!("berth-test-{}-{name}", std::process::id());
        let path =
            CgroupsPath::from_spec(Some(Path::new(&format!("/{top}/ctr"))), "unused").unwrap();
        let layout = Layout::detect().unwrap();
        // The VM stage sets this, so a mis-booted guest cannot pass by testing another driver.
        if let Ok(want) = std::env::var("BERTH_TEST_CGROUP_LAYOUT") {
            let kind = serde_json::to_value(layout.kind()).unwrap();
            assert_eq!(kind.as_str(), Some(want.as_str()), "cgroup layout");
        }
        let m = Manager::new(&layout, &path, &OwnCgroups::default()).unwrap();
        m.create().unwrap();
        TestCgroup { m, top }
    }

    fn leftovers(&self) -> Vec<PathBuf> {
        mount_points()
            .into_iter()
            .map(|mp| mp.join(&self.top))
            .filter(|p| p.exists())
            .collect()
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        let pids = self.m.pids().unwrap_or_default();
        let destroyed = self.m.destroy(true);
        reap(&pids);
        for d in self.leftovers() {
            let _ = std::fs::remove_dir(&d);
        }
        if !std::thread::panicking() {
            destroyed.unwrap();
            assert!(!self.m.exists());
            let left = self.leftovers();
            assert!(left.is_empty(), "cgroups left behind: {left:?}");
        }
    }
}

fn set_subreaper() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: PR_SET_CHILD_SUBREAPER takes an integer argument only.
        let r = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        assert_eq!(r, 0, "prctl(PR_SET_CHILD_SUBREAPER)");
    });
}

/// Reaps `pids` once they are our children (orphans are reparented to this subreaper) and
/// have exited. Gives up on each after a few seconds.
pub fn reap(pids: &[i32]) {
    for &pid in pids {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            let mut status = 0;
            // SAFETY: status is a valid int for waitpid to fill.
            let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            let gone = r > 0 || (r < 0 && !Path::new(&format!("/proc/{pid}")).exists());
            if gone {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// A `/bin/sh -c script` child that waits for a line on stdin before it runs `script`, so
/// it can be put in the cgroup first.
pub struct Proc {
    pub child: Child,
    stdin: Option<ChildStdin>,
    pub out: BufReader<ChildStdout>,
}

impl Proc {
    pub fn spawn(script: &str) -> Proc {
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg(format!("read go; {script}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let out = BufReader::new(child.stdout.take().unwrap());
        Proc { child, stdin, out }
    }

    /// Spawns, places in `m`'s cgroup, then lets the script run.
    pub fn start_in(m: &Manager, script: &str) -> Proc {
        let mut p = Proc::spawn(script);
        m.add_process(p.pid()).unwrap();
        p.go();
        p
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn go(&mut self) {
        let mut s = self.stdin.take().unwrap();
        s.write_all(b"go\n").unwrap();
    }

    pub fn line(&mut self) -> String {
        let mut l = String::new();
        self.out.read_line(&mut l).unwrap();
        l.trim_end().to_string()
    }

    /// Waits (up to `limit`) for the child to exit: its status and stderr.
    pub fn finish(mut self, limit: Duration) -> (std::process::ExitStatus, String) {
        let start = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                let mut err = String::new();
                std::io::Read::read_to_string(self.child.stderr.as_mut().unwrap(), &mut err)
                    .unwrap();
                return (st, err);
            }
            if start.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("child did not finish within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads a cgroup file of the manager's cgroup in the hierarchy carrying `controller`
/// (v1), or in the single v2 directory.
pub fn read(m: &Manager, controller: &str, file: &str) -> String {
    let dir = m
        .mounts()
        .into_iter()
        .find(|mnt| mnt.fstype == "cgroup2" || mnt.options.iter().any(|o| o == controller))
        .map(|mnt| mnt.cgroup_dir)
        .unwrap();
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join(file).display()))
        .trim()
        .to_string()
}

/// A block device's `major:minor` from /sys/block, for the throttle tests.
pub fn some_block_device() -> Option<(i64, i64)> {
    let mut names: Vec<_> = std::fs::read_dir("/sys/block")
        .ok()?
        .flatten()
        .map(|e| e.path())
        .collect();
    names.sort();
    names.into_iter().find_map(|p| {
        let s = std::fs::read_to_string(p.join("dev")).ok()?;
        let (a, b) = s.trim().split_once(':')?;
        Some((a.parse().ok()?, b.parse().ok()?))
    })
}
