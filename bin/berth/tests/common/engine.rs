//! Helpers for the engine's tests: a busybox image imported into a private root, commands
//! with a timeout, and the check that a test left nothing behind (and a cleanup that runs
//! even when the test failed).

use super::Berth;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// No engine command in these tests may take longer.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// A private berth with a `busybox` image and its own cgroup parent.
pub struct Engine {
    pub b: Berth,
    pub cgroup_parent: String,
}

/// Moves the calling thread (and so every berth it starts, and the threads it spawns) into
/// a network namespace of its own with loopback up: the default bridge network, its
/// bridge and nftables table are made there, never in the machine's namespace.
pub fn private_network() {
    // SAFETY: plain syscall; it changes only this thread's network namespace.
    let r = unsafe { libc::unshare(libc::CLONE_NEWNET) };
    assert_eq!(
        r,
        0,
        "unshare(CLONE_NEWNET): {}",
        std::io::Error::last_os_error()
    );
    let st = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status()
        .expect("ip (iproute2) installed");
    assert!(st.success());
}

/// A busybox root filesystem (Debian's busybox-static with every applet linked, a passwd
/// with root and nobody) as `busybox.tar` in `dir`, made once.
pub fn busybox_tar_in(dir: &Path) -> PathBuf {
    let tar = dir.join("busybox.tar");
    if tar.exists() {
        return tar;
    }
    let r = dir.join("rootfs");
    for d in ["bin", "etc", "tmp", "root", "proc", "sys", "dev"] {
        std::fs::create_dir_all(r.join(d)).unwrap();
    }
    std::fs::copy("/bin/busybox", r.join("bin/busybox")).expect("busybox-static installed");
    let list = Command::new("/bin/busybox").arg("--list").output().unwrap();
    for applet in String::from_utf8(list.stdout).unwrap().lines() {
        if applet != "busybox" {
            std::os::unix::fs::symlink("busybox", r.join("bin").join(applet)).unwrap();
        }
    }
    std::fs::write(
        r.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    )
    .unwrap();
    std::fs::write(r.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
    let st = Command::new("tar")
        .arg("-C")
        .arg(&r)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::remove_dir_all(&r).unwrap();
    tar
}

impl Engine {
    pub fn new() -> Engine {
        private_network();
        let b = Berth::new();
        let unique = b
            .dir
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let e = Engine {
            cgroup_parent: format!("/berth-test/{unique}"),
            b,
        };
        let tar = e.busybox_tar();
        e.ok(&[
            "import",
            "-c",
            r#"CMD ["sh"]"#,
            tar.to_str().unwrap(),
            "busybox",
        ]);
        e
    }

    /// A busybox root filesystem as a tar in the test's directory ([`busybox_tar_in`]).
    pub fn busybox_tar(&self) -> PathBuf {
        busybox_tar_in(self.b.dir.path())
    }

    /// `berth ARGS`, with this test's cgroup parent for `run` and `create`.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut args: Vec<&str> = args.to_vec();
        if matches!(
            args.first(),
            Some(&"run") | Some(&"create") | Some(&"build")
        ) {
            args.splice(1..1, ["--cgroup-parent", self.cgroup_parent.as_str()]);
        }
        self.b.cmd(&args)
    }

    /// Runs `berth ARGS` with stdin from /dev/null; panics after [`TIMEOUT`].
    pub fn run(&self, args: &[&str]) -> Output {
        let mut c = self.cmd(args);
        c.stdin(Stdio::null());
        output_within(c, TIMEOUT, &format!("berth {args:?}"))
    }

    /// Requires success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "berth {args:?} failed ({:?}): {}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    /// Requires exit status `code` and exactly one line, `berth: ...`, on stderr; returns it.
    pub fn fail(&self, code: i32, args: &[&str]) -> String {
        let o = self.run(args);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(code), "berth {args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "berth {args:?}: {err:?}");
        assert!(err.starts_with("berth: "), "berth {args:?}: {err:?}");
        err.trim_end().to_string()
    }

    /// Runs `berth ARGS` on a pty (see [`on_pty`]).
    pub fn on_pty(&self, args: &[&str], input: &[u8]) -> (Option<i32>, String) {
        on_pty(self, args, input)
    }

    /// `berth inspect` of one container.
    pub fn inspect(&self, what: &str) -> serde_json::Value {
        let v: serde_json::Value = serde_json::from_str(&self.ok(&["inspect", what])).unwrap();
        v[0].clone()
    }

    pub fn containers_dir(&self) -> PathBuf {
        self.b.root.join("containers")
    }

    /// `ROOT/volumes/NAME/_data`, what containers mount of volume `name`.
    pub fn volume_data(&self, name: &str) -> PathBuf {
        self.b.root.join("volumes").join(name).join("_data")
    }

    /// Nothing of any container is left: no record, name, rootfs, runtime state, mount,
    /// process or cgroup; and no volume.
    pub fn assert_clean(&self) {
        assert_eq!(self.ok(&["ps", "-a", "-q"]), "", "containers left");
        let dirs: Vec<String> = entries(&self.containers_dir())
            .into_iter()
            // Exit statuses of self-removed containers stay for a while, by design, and the
            // files containers share stay.
            .filter(|e| !["names", "removed", "shared"].contains(&e.as_str()))
            .collect();
        assert!(dirs.is_empty(), "container dirs left: {dirs:?}");
        assert!(
            entries(&self.containers_dir().join("names")).is_empty(),
            "names left"
        );
        assert!(
            entries(&self.b.root.join("image/rootfs")).is_empty(),
            "rootfs left"
        );
        let runtime: Vec<String> = entries(&self.b.root.join("runtime"))
            .into_iter()
            .filter(|e| !e.starts_with('@'))
            .collect();
        assert!(runtime.is_empty(), "runtime state left: {runtime:?}");
        let volumes = entries(&self.b.root.join("volumes"));
        assert!(volumes.is_empty(), "volumes left: {volumes:?}");
        self.b.assert_host_clean();
        let procs = processes_mentioning(&self.b.root);
        assert!(procs.is_empty(), "processes left: {procs:?}");
        for dir in cgroup_dirs(&self.cgroup_parent) {
            let left = entries(&dir)
                .into_iter()
                .filter(|e| dir.join(e).is_dir())
                .collect::<Vec<_>>();
            assert!(
                left.is_empty(),
                "cgroups left in {}: {left:?}",
                dir.display()
            );
        }
    }
}

impl Drop for Engine {
    /// Removes whatever a failed test left: containers (killing them), volumes (unmounting
    /// them), then the cgroup parent.
    fn drop(&mut self) {
        let ids = self.run(&["ps", "-a", "-q"]);
        for id in String::from_utf8_lossy(&ids.stdout).lines() {
            let _ = self.run(&["rm", "-f", "-v", id]);
        }
        let _ = self.run(&["volume", "prune", "-a", "-f"]);
        for dir in cgroup_dirs(&self.cgroup_parent) {
            let _ = std::fs::remove_dir(&dir);
            // The shared parent goes with the last test.
            let _ = std::fs::remove_dir(dir.parent().unwrap());
        }
    }
}

/// Names in a directory, sorted (none if it does not exist).
pub fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The directory of cgroup `path` in every hierarchy where it exists.
pub fn cgroup_dirs(path: &str) -> Vec<PathBuf> {
    let base = Path::new("/sys/fs/cgroup");
    let rel = path.trim_start_matches('/');
    let mut roots = vec![base.to_path_buf()];
    roots.extend(
        entries(base)
            .into_iter()
            .map(|e| base.join(e))
            .filter(|p| p.is_dir()),
    );
    roots
        .into_iter()
        .map(|r| r.join(rel))
        .filter(|p| p.is_dir())
        .collect()
}

/// Live processes (not this one) whose command line mentions `path`.
pub fn processes_mentioning(path: &Path) -> Vec<String> {
    let needle = path.to_string_lossy().into_owned();
    let me = std::process::id().to_string();
    entries(Path::new("/proc"))
        .into_iter()
        .filter(|p| p.bytes().all(|b| b.is_ascii_digit()) && *p != me)
        .filter_map(|p| {
            let cmd = std::fs::read(format!("/proc/{p}/cmdline")).ok()?;
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            cmd.contains(&needle).then(|| format!("{p}: {cmd}"))
        })
        .collect()
}

/// Runs `c` to completion, collecting its output; kills it and panics after `timeout`.
pub fn output_within(mut c: Command, timeout: Duration, what: &str) -> Output {
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let pump = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = pump(child.stdout.take().map(|s| Box::new(s) as _));
    let err = pump(child.stderr.take().map(|s| Box::new(s) as _));
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: no exit after {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// Waits until `cond` holds, for at most 20 s.
pub fn eventually(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A pty pair for the test's side of `-t`, with the given window size.
pub fn pty(rows: u16, cols: u16) -> (OwnedFd, OwnedFd) {
    let (mut m, mut s) = (0, 0);
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: valid out-pointers; no name buffer; a valid winsize.
    let r = unsafe { libc::openpty(&mut m, &mut s, std::ptr::null_mut(), std::ptr::null(), &ws) };
    assert_eq!(r, 0);
    // SAFETY: openpty returned two new fds that we own.
    unsafe { (OwnedFd::from_raw_fd(m), OwnedFd::from_raw_fd(s)) }
}

/// Runs `berth ARGS` on a pty, writing `input` to it a moment later; returns its exit
/// status and what it printed on the terminal.
pub fn on_pty(e: &Engine, args: &[&str], input: &[u8]) -> (Option<i32>, String) {
    on_pty_acting(e, args, |master, _| type_on(master, input))
}

/// Writes `input` to a pty's master, as typed.
pub fn type_on(master: &OwnedFd, input: &[u8]) {
    // SAFETY: writing a buffer to the open master.
    let n = unsafe { libc::write(master.as_raw_fd(), input.as_ptr().cast(), input.len()) };
    assert_eq!(n, input.len() as isize);
}

/// Runs `berth ARGS` on a 33×111 pty and, a moment later, `act` with the pty's master and
/// berth's pid; returns berth's exit status and what it printed on the terminal.
pub fn on_pty_acting(
    e: &Engine,
    args: &[&str],
    act: impl FnOnce(&OwnedFd, u32),
) -> (Option<i32>, String) {
    let (master, slave) = pty(33, 111);
    let mut c = e.cmd(args);
    c.stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave));
    let mut child = c.spawn().unwrap();
    drop(c);
    // Done once berth has had time to set the terminal up (raw mode, with ctrl-q no longer
    // the terminal's flow control), as a person would.
    std::thread::sleep(Duration::from_millis(300));
    act(&master, child.id());
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            // SAFETY: reading into a buffer from the open master; EIO once all slaves closed.
            let n = unsafe { libc::read(master.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                break;
            }
            out.extend_from_slice(&buf[..n as usize]);
        }
        String::from_utf8_lossy(&out).into_owned()
    });
    let t = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "berth {args:?} on a pty hangs"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    (status.code(), reader.join().unwrap())
}

/// A docker-registry on 127.0.0.1:5000 of the test's network namespace, over plain HTTP;
/// with `auth`, basic auth as tester / testpass.
pub struct Registry(std::process::Child);

impl Registry {
    pub fn start(dir: &Path, auth: bool) -> Registry {
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n\
             storage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:5000\n",
            dir.join("registry").display(),
        );
        if auth {
            let htpasswd = Command::new("htpasswd")
                .args(["-Bbn", "tester", "testpass"])
                .output()
                .expect("htpasswd installed (apache2-utils, see .ci/packages)");
            std::fs::write(dir.join("htpasswd"), htpasswd.stdout).unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: test\n    path: {}\n",
                dir.join("htpasswd").display()
            ));
        }
        let path = dir.join("registry.yml");
        std::fs::write(&path, config).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry installed (see .ci/packages)");
        eventually("the registry listens", || {
            std::net::TcpStream::connect("127.0.0.1:5000").is_ok()
        });
        Registry(child)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
