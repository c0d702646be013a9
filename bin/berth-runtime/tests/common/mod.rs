//! Test harness: busybox bundles in temporary directories, the real `berth-runtime` binary with
//! a private state root, every command under a timeout, and checks that nothing was left on
//! the host.

#![allow(dead_code)]

use serde_json::{json, Value};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_berth-runtime");

/// A busybox rootfs: the static binary and its applet links.
pub fn busybox_rootfs(root: &Path) {
    for d in [
        "bin", "sbin", "etc", "proc", "sys", "dev", "tmp", "root", "usr/bin", "var", "run",
    ] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::copy("/bin/busybox", root.join("bin/busybox"))
        .expect("busybox-static must be installed");
    let list = Command::new("/bin/busybox").arg("--list").output().unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" && !applet.is_empty() {
            let _ = symlink("busybox", root.join("bin").join(applet));
        }
    }
    std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n").unwrap();
    std::fs::write(
        root.join("etc/group"),
        "root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n",
    )
    .unwrap();
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A unique container id for this test process.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::SeqCst)
    )
}

/// A bundle (config + rootfs) and a private state root, in one temporary directory.
pub struct Bundle {
    pub dir: tempfile::TempDir,
    pub config: Value,
    /// Container ids used with this bundle, checked for leftover cgroups.
    ids: std::cell::RefCell<Vec<String>>,
    /// A protection switched off for the runtime's commands (debug builds only), to show
    /// that an attack test fails without it.
    disabled: std::cell::RefCell<Option<String>>,
}

impl Bundle {
    /// The default `berth-runtime spec` config running `args`, without a terminal.
    pub fn new(args: &[&str]) -> Bundle {
        let dir = tempfile::Builder::new()
            .prefix("berth-test-")
            .tempdir()
            .unwrap();
        busybox_rootfs(&dir.path().join("rootfs"));
        let out = Command::new(BIN)
            .args(["spec", "--bundle"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "spec: {out:?}");
        let mut config: Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("config.json")).unwrap())
                .unwrap();
        config["process"]["terminal"] = json!(false);
        config["process"]["args"] = json!(args);
        Bundle {
            dir,
            config,
            ids: Default::default(),
            disabled: Default::default(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn rootfs(&self) -> PathBuf {
        self.path().join("rootfs")
    }

    pub fn state_root(&self) -> PathBuf {
        self.path().join("state")
    }

    /// Adds a user namespace mapping the container's ids 0..65536 to the host's from `base`,
    /// and hands the rootfs to the mapped root.
    pub fn with_user_namespace(&mut self, base: u32) {
        let ns = self.config["linux"]["namespaces"].as_array_mut().unwrap();
        if !ns.iter().any(|n| n["type"] == "user") {
            ns.push(json!({"type": "user"}));
        }
        let map = json!([{"containerID": 0, "hostID": base, "size": 65536}]);
        self.config["linux"]["uidMappings"] = map.clone();
        self.config["linux"]["gidMappings"] = map;
        let owner = format!("{base}:{base}");
        let st = Command::new("chown")
            .args(["-R", "-h", &owner])
            .arg(self.rootfs())
            .status()
            .unwrap();
        assert!(st.success());
    }

    /// Writes `config.json`.
    pub fn write(&self) {
        std::fs::write(
            self.path().join("config.json"),
            serde_json::to_vec_pretty(&self.config).unwrap(),
        )
        .unwrap();
    }

    /// A `berth-runtime` command with this bundle's state root.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--root").arg(self.state_root()).args(args);
        if let Some(p) = self.disabled.borrow().as_ref() {
            c.env("BERTH_TEST_DISABLE_PROTECTION", p);
        }
        c
    }

    /// Switches a protection off (or back on with `None`) for the following commands.
    pub fn protection_off(&self, name: Option<&str>) {
        *self.disabled.borrow_mut() = name.map(str::to_string);
    }

    /// Runs a runtime command (config written first), with a timeout.
    pub fn rt(&self, args: &[&str]) -> Output {
        self.write();
        let mut c = self.cmd(args);
        c.current_dir(self.path());
        run_with_timeout(c, Duration::from_secs(30))
    }

    /// `run` in the foreground: the container's output and the runtime's exit status.
    pub fn run(&self, id: &str) -> Output {
        self.ids.borrow_mut().push(id.to_string());
        self.rt(&["run", "--bundle", self.path().to_str().unwrap(), id])
    }

    /// Runs and requires success; returns the container's stdout.
    pub fn run_ok(&self) -> String {
        let id = unique("run");
        let out = self.run(&id);
        assert!(
            out.status.success(),
            "run failed: {}\nstdout: {}",
            text(&out.stderr),
            text(&out.stdout)
        );
        text(&out.stdout)
    }

    /// `create` with stdio detached from the test (the init keeps its stdio until it exits).
    pub fn create(&self, id: &str, extra: &[&str]) -> Output {
        self.ids.borrow_mut().push(id.to_string());
        self.write();
        let mut c = self.cmd(&["create", "--bundle", self.path().to_str().unwrap()]);
        c.args(extra).arg(id).current_dir(self.path());
        c.stdin(Stdio::null()).stdout(Stdio::null());
        run_with_timeout(c, Duration::from_secs(30))
    }

    /// The parsed output of `state`.
    pub fn state(&self, id: &str) -> Value {
        let out = self.rt(&["state", id]);
        assert!(out.status.success(), "state: {}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Everything the host must not keep after this bundle's containers are gone.
    pub fn assert_host_clean(&self) {
        assert_no_leftovers(self.path(), &self.state_root());
        for id in self.ids.borrow().iter() {
            assert_no_cgroup(id);
        }
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        // Best effort: kill and delete whatever a failed test left running.
        if let Ok(rd) = std::fs::read_dir(self.state_root()) {
            for e in rd.flatten() {
                let id = e.file_name().to_string_lossy().into_owned();
                let _ = self.cmd(&["delete", "--force", &id]).output();
            }
        }
    }
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `c` capturing its output, killing it after `limit`. Output goes to unnamed files, not
/// pipes: a container process that inherits them would otherwise hold a pipe open after the
/// runtime has exited.
pub fn run_with_timeout(mut c: Command, limit: Duration) -> Output {
    let mut out = tempfile::tempfile().unwrap();
    let mut err = tempfile::tempfile().unwrap();
    c.stdout(out.try_clone().unwrap())
        .stderr(err.try_clone().unwrap());
    let mut child = c.spawn().unwrap();
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("command timed out after {limit:?}: {c:?}");
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let read = |f: &mut std::fs::File| {
        let mut v = Vec::new();
        f.seek(SeekFrom::Start(0)).unwrap();
        f.read_to_end(&mut v).unwrap();
        v
    };
    Output {
        status,
        stdout: read(&mut out),
        stderr: read(&mut err),
    }
}

/// No mount under `dir`, no state under `state_root`, no process whose root or cwd is in `dir`.
pub fn assert_no_leftovers(dir: &Path, state_root: &Path) {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let d = dir.to_str().unwrap();
    let leaked: Vec<&str> = mounts.lines().filter(|l| l.contains(d)).collect();
    assert!(leaked.is_empty(), "mounts left on the host: {leaked:#?}");
    // `@cache` holds compiled seccomp filters, shared by containers, not state of one.
    let states: Vec<_> = std::fs::read_dir(state_root)
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name())
                .filter(|n| n != "@cache")
                .collect()
        })
        .unwrap_or_default();
    assert!(states.is_empty(), "state left: {states:?}");
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let st = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if st.contains(") Z ") {
            continue;
        }
        for link in ["root", "cwd"] {
            if let Ok(t) = std::fs::read_link(format!("/proc/{pid}/{link}")) {
                assert!(
                    !t.starts_with(dir),
                    "process {pid} still runs in the bundle ({link} = {})",
                    t.display()
                );
            }
        }
    }
}

/// No cgroup directory named `id` in any hierarchy (searched a few levels deep).
pub fn assert_no_cgroup(id: &str) {
    fn walk(dir: &Path, id: &str, depth: u32, found: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if e.file_name() == id {
                found.push(e.path());
            } else if depth > 0 {
                walk(&e.path(), id, depth - 1, found);
            }
        }
    }
    let mut found = Vec::new();
    walk(Path::new("/sys/fs/cgroup"), id, 4, &mut found);
    assert!(found.is_empty(), "cgroups left: {found:?}");
}

/// Asserts a command failed with a single-line error containing `needle`.
pub fn assert_fails_with(out: &Output, needle: &str) {
    assert!(
        !out.status.success(),
        "expected failure, got success: {}",
        text(&out.stdout)
    );
    let err = text(&out.stderr);
    assert!(
        err.contains(needle),
        "error does not mention {needle:?}: {err}"
    );
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "error is not one line: {err}"
    );
}

/// Waits until `f` holds, up to 30 s (the cgroup v2 tests run in an emulated VM, which a
/// busy host slows tenfold).
pub fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Makes `fd` of this process appear as `target` (not close-on-exec) in the child `c` runs.
pub fn pass_fd(c: &mut Command, fd: std::os::fd::RawFd, target: std::os::fd::RawFd) {
    use std::os::unix::process::CommandExt;
    // SAFETY: only dup2 and fcntl, which are async-signal-safe, run in the child.
    unsafe {
        c.pre_exec(move || {
            // dup2 onto itself is a no-op that would leave close-on-exec set.
            let r = if fd == target {
                libc::fcntl(fd, libc::F_SETFD, 0)
            } else {
                libc::dup2(fd, target)
            };
            if r < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
