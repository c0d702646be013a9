//! Rootless berth: the engine run by ordinary users (made here with useradd, which gives
//! them subordinate ids), each with its own store and runtime directory, networked through
//! pasta inside a network namespace of the test's own.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "../../berth-runtime/tests/systemd_host/mod.rs"]
#[allow(dead_code)] // its `show` reads the system manager; the user's is what matters here
mod systemd_host;
use common::engine::{busybox_tar_in, eventually, private_network, Registry};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use systemd_host::systemd_here;

const BIN: &str = env!("CARGO_BIN_EXE_berth");

/// The tests share users (and so their namespace holders): one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// A test user: with subordinate ids from useradd, or with none.
struct User {
    name: &'static str,
    uid: u32,
    gid: u32,
}

fn id(flag: &str, name: &str) -> u32 {
    let o = Command::new("id").args([flag, name]).output().unwrap();
    String::from_utf8(o.stdout).unwrap().trim().parse().unwrap()
}

fn user(name: &'static str, subordinate_ids: bool) -> User {
    if !Command::new("id")
        .arg(name)
        .output()
        .unwrap()
        .status
        .success()
    {
        let mut c = Command::new("useradd");
        c.arg("-m");
        if !subordinate_ids {
            c.args(["-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0"]);
        }
        assert!(c.arg(name).status().unwrap().success());
    }
    // pasta opens it as the user; udev makes it 0666 on a normal system (docs/ROOTLESS.md).
    // (The VM of the cgroup v2 tests may have none.)
    if Path::new("/dev/net/tun").exists() {
        std::fs::set_permissions(
            "/dev/net/tun",
            std::os::unix::fs::PermissionsExt::from_mode(0o666),
        )
        .unwrap();
    }
    User {
        name,
        uid: id("-u", name),
        gid: id("-g", name),
    }
}

/// The first subordinate uid of `name`.
fn subuid_start(name: &str) -> u32 {
    let text = std::fs::read_to_string("/etc/subuid").unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{name}:")))
        .unwrap();
    line.split(':').nth(1).unwrap().parse().unwrap()
}

/// One user's berth: its data and runtime directories in a directory of its own. Dropping
/// it ends the user's processes (the namespace holder, pasta) and removes the directory.
struct Rootless {
    user: User,
    dir: tempfile::TempDir,
    path: Option<String>,
    /// XDG_RUNTIME_DIR when not the test's own (the one of the user's systemd manager).
    runtime_dir: Option<PathBuf>,
    /// A cgroup to start each command in (written by root before it becomes the user).
    cgroup: Option<PathBuf>,
}

impl Rootless {
    fn new(user: User) -> Rootless {
        let dir = tempfile::Builder::new()
            .prefix("berth-rootless-")
            .tempdir()
            .unwrap();
        // What a login session gives the user: its own XDG_RUNTIME_DIR, 0700.
        let run = dir.path().join("run");
        std::fs::create_dir(&run).unwrap();
        for d in [dir.path(), run.as_path()] {
            std::os::unix::fs::chown(d, Some(user.uid), Some(user.gid)).unwrap();
        }
        Rootless {
            user,
            dir,
            path: None,
            runtime_dir: None,
            cgroup: None,
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn run_dir(&self) -> PathBuf {
        self.runtime_dir
            .clone()
            .unwrap_or_else(|| self.dir.path().join("run"))
    }

    /// `berth ARGS` as the user, with a clean environment.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = match &self.cgroup {
            Some(cg) => {
                let mut c = Command::new("sh");
                c.args(["-c", "echo $$ > \"$0\" && exec \"$@\""])
                    .arg(cg.join("cgroup.procs"))
                    .arg("runuser");
                c
            }
            None => Command::new("runuser"),
        };
        c.args(["-u", self.user.name, "--", "env", "-i"])
            .arg(format!(
                "PATH={}",
                self.path.as_deref().unwrap_or("/usr/bin:/bin")
            ))
            .arg(format!("HOME={}", self.dir.path().display()))
            .arg(format!("XDG_DATA_HOME={}", self.data().display()))
            .arg(format!("XDG_RUNTIME_DIR={}", self.run_dir().display()))
            .arg(BIN)
            .args(args)
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        common::engine::output_within(
            self.cmd(args),
            common::engine::TIMEOUT,
            &format!("berth {args:?}"),
        )
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "berth {args:?} as {}: {}",
            self.user.name,
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    /// Requires exit status `code` and one line on stderr; returns it.
    fn fail(&self, code: i32, args: &[&str]) -> String {
        let o = self.run(args);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(code), "berth {args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "berth {args:?}: {err:?}");
        err
    }

    /// Imports busybox (with /srv/f owned by 33:33, and `extra` entries) as `busybox`.
    fn import_busybox(&self, extra: &[(&str, u32)]) {
        let tar = busybox_tar_in(self.dir.path());
        let files = self.dir.path().join("extra");
        std::fs::create_dir_all(files.join("srv")).unwrap();
        for (name, owner) in [("srv/f", 33)].iter().chain(extra) {
            std::fs::write(files.join(name), "hello\n").unwrap();
            let st = Command::new("tar")
                .arg("-C")
                .arg(&files)
                .args([
                    &format!("--owner={owner}"),
                    &format!("--group={owner}"),
                    "-rf",
                ])
                .arg(&tar)
                .arg(name)
                .status()
                .unwrap();
            assert!(st.success());
        }
        self.ok(&["import", tar.to_str().unwrap(), "busybox"]);
    }

    /// The pid of the user's namespace holder.
    fn keeper(&self) -> i32 {
        let p = self.run_dir().join("berth/pause.pid");
        std::fs::read_to_string(p).unwrap().trim().parse().unwrap()
    }

    /// The user's live processes named `comm` (a killed one may stay a zombie a moment,
    /// until the subreaper gets to it).
    fn processes(&self, comm: &str) -> Vec<String> {
        let o = Command::new("pgrep")
            .args(["-a", "-r", "R,S,D,T", "-u", self.user.name, comm])
            .output()
            .unwrap();
        String::from_utf8(o.stdout)
            .unwrap()
            .lines()
            .map(String::from)
            .collect()
    }

    /// No pasta of the user's runs (one SIGKILLed a moment ago may still be exiting).
    fn assert_no_pasta(&self) {
        let mut left = self.processes("pasta|passt");
        for _ in 0..20 {
            if left.is_empty() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
            left = self.processes("pasta|passt");
        }
        panic!("pasta left: {left:?}");
    }

    /// Nothing of a container is left: no container directory, no overlay in the user's
    /// mount namespace, no pasta.
    fn assert_clean(&self) {
        let containers = self.data().join("berth/containers");
        let left: Vec<String> = std::fs::read_dir(&containers)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| !["names", "removed", "shared"].contains(&n.as_str()))
                    .collect()
            })
            .unwrap_or_default();
        assert!(left.is_empty(), "containers left: {left:?}");
        let mounts = std::fs::read_to_string(format!("/proc/{}/mountinfo", self.keeper())).unwrap();
        let data = self.data().display().to_string();
        assert!(
            !mounts.lines().any(|l| l.contains(&data)),
            "mounts left: {mounts}"
        );
        self.assert_no_pasta();
    }
}

impl Drop for Rootless {
    fn drop(&mut self) {
        let _ = Command::new("pkill")
            .args(["-KILL", "-u", self.user.name])
            .status();
    }
}

/// The test's own network namespace with a host-like interface: pasta copies the
/// namespace's address and default route into the containers'.
fn host_like_network() {
    private_network();
    for args in [
        "link add br0 type bridge",
        "addr add 192.0.2.1/24 dev br0",
        "link set br0 up",
        "route add default via 192.0.2.254 dev br0 onlink",
        // A port that stays: a bridge whose last port went away has no carrier, and pasta
        // will not use an interface without one.
        "link add hv0 type veth peer name hv1",
        "link set hv0 master br0 up",
        "link set hv1 up",
    ] {
        let st = Command::new("ip").args(args.split(' ')).status().unwrap();
        assert!(st.success(), "ip {args}");
    }
}

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn an_ordinary_user_runs_containers_with_the_images_owners() {
    let _one = serial();
    private_network();
    let u = user("berth-rl", true);
    let (uid, sub) = (u.uid, subuid_start("berth-rl"));
    let b = Rootless::new(u);
    b.import_busybox(&[]);
    let out = b.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "id -u; stat -c %u:%g /srv/f; cat /proc/self/uid_map",
    ]);
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], ["0"], "{out}");
    assert_eq!(lines[1], ["33:33"], "{out}");
    assert_eq!(lines[2], ["0", &uid.to_string(), "1"], "{out}");
    assert_eq!(lines[3], ["1", &sub.to_string(), "65536"], "{out}");
    // On the host, the image's uid 33 is the user's 33rd subordinate id.
    let f = std::fs::read_dir(b.data().join("berth/image/snapshots"))
        .unwrap()
        .flatten()
        .map(|e| e.path().join("fs/srv/f"))
        .find(|p| p.exists())
        .unwrap();
    assert_eq!(std::fs::metadata(&f).unwrap().uid(), sub + 32);
    let mode = std::fs::metadata(b.data().join("berth")).unwrap().mode() & 0o777;
    assert_eq!(mode, 0o700);

    b.ok(&[
        "run",
        "-d",
        "--name",
        "d",
        "--network",
        "none",
        "busybox",
        "sleep",
        "60",
    ]);
    assert_eq!(b.ok(&["exec", "d", "id", "-u"]).trim(), "0");
    assert!(b.ok(&["ps"]).contains(" d\n"));
    b.ok(&[
        "cp",
        "d:/etc/passwd",
        b.dir.path().join("p").to_str().unwrap(),
    ]);
    b.ok(&["stop", "-t", "1", "d"]);
    b.ok(&["rm", "d"]);
    b.assert_clean();

    let info = b.ok(&["info"]);
    assert!(info.contains("Rootless: true"), "{info}");
    assert!(
        info.contains(&format!(" UID Map: 0 {uid} 1, 1 {sub} 65536")),
        "{info}"
    );
    // Limits need a delegated cgroup, which cgroup v1 never gives a user.
    let e = b.fail(
        125,
        &[
            "run",
            "--rm",
            "-m",
            "64m",
            "--network",
            "none",
            "busybox",
            "true",
        ],
    );
    assert!(
        e.contains("resource limits need a cgroup this user may write"),
        "{e}"
    );
    b.assert_clean();
    assert!(b.ok(&["ps", "-a", "-q"]).is_empty());
}

#[test]
fn an_owner_outside_the_subordinate_ids_is_refused_naming_the_fix() {
    let _one = serial();
    let b = Rootless::new(user("berth-rl", true));
    let tar = busybox_tar_in(b.dir.path());
    let files = b.dir.path().join("x");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join("far"), "x").unwrap();
    let st = Command::new("tar")
        .arg("-C")
        .arg(&files)
        .args(["--owner=70000", "--group=70000", "-rf"])
        .arg(&tar)
        .arg("far")
        .status()
        .unwrap();
    assert!(st.success());
    let e = b.fail(1, &["import", tar.to_str().unwrap(), "far"]);
    assert!(e.contains("owned by 70000:70000"), "{e}");
    assert!(e.contains("/etc/subuid"), "{e}");
    assert!(b.ok(&["images", "-q"]).is_empty());
}

#[test]
fn a_user_without_subordinate_ids_gets_one_id_and_the_fix() {
    let _one = serial();
    let u = user("berth-rl-noids", false);
    let uid = u.uid;
    let b = Rootless::new(u);
    let o = b.run(&["images"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("usermod --add-subuids"), "{err}");
    // Said once, when the namespace is made.
    let o = b.run(&["images"]);
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let tar = busybox_tar_in(b.dir.path());
    b.ok(&["import", tar.to_str().unwrap(), "busybox"]);
    let map = b.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "cat",
        "/proc/self/uid_map",
    ]);
    let fields: Vec<&str> = map.split_whitespace().collect();
    assert_eq!(fields, ["0", &uid.to_string(), "1"]);
    b.assert_clean();
}

#[test]
fn pasta_publishes_ports_and_keeps_the_clients_address() {
    let _one = serial();
    host_like_network();
    let b = Rootless::new(user("berth-rl", true));
    b.import_busybox(&[]);
    b.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        "18080:80",
        "busybox",
        "sh",
        "-c",
        "echo hello > /srv/index.html; exec httpd -f -v -p 80 -h /srv",
    ]);
    assert_eq!(b.ok(&["port", "web"]).trim(), "80/tcp -> 0.0.0.0:18080");
    let get = |url: &str| {
        for _ in 0..50 {
            let o = Command::new("busybox")
                .args(["wget", "-qO-", url])
                .output()
                .unwrap();
            if o.status.success() {
                return String::from_utf8(o.stdout).unwrap();
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("no answer from {url}");
    };
    assert_eq!(get("http://127.0.0.1:18080/"), "hello\n");
    assert_eq!(get("http://192.0.2.1:18080/"), "hello\n");
    // A client in a namespace of its own, on the bridge as another host would be: the
    // container sees its address.
    let client = Command::new("unshare")
        .args(["-n", "sleep", "30"])
        .spawn()
        .unwrap();
    let pid = client.id().to_string();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let ip = |args: &str| {
        let st = Command::new("ip").args(args.split(' ')).status().unwrap();
        assert!(st.success(), "ip {args}");
    };
    ip(&format!(
        "link add cl0 type veth peer name eth0 netns {pid}"
    ));
    ip("link set cl0 master br0 up");
    let inside = |args: &[&str]| {
        Command::new("nsenter")
            .args(["-t", &pid, "-n"])
            .args(args)
            .output()
            .unwrap()
    };
    for a in [
        "ip link set lo up",
        "ip addr add 192.0.2.9/24 dev eth0",
        "ip link set eth0 up",
    ] {
        assert!(
            inside(&a.split(' ').collect::<Vec<_>>()).status.success(),
            "{a}"
        );
    }
    let mut answered = false;
    for _ in 0..50 {
        let o = inside(&["busybox", "wget", "-qO-", "http://192.0.2.1:18080/"]);
        if o.status.success() {
            answered = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let mut client = client;
    let _ = client.kill();
    let _ = client.wait();
    assert!(answered);
    let logs = b.ok(&["logs", "web"]);
    let stderr = String::from_utf8(b.run(&["logs", "web"]).stderr).unwrap();
    assert!(
        format!("{logs}{stderr}").contains("[::ffff:192.0.2.9]:"),
        "{logs}{stderr}"
    );

    let e = b.fail(125, &["run", "--rm", "-p", "18080:80", "busybox", "true"]);
    assert!(e.contains("already published by container"), "{e}");
    let e = b.fail(125, &["run", "--rm", "-p", "80:80", "busybox", "true"]);
    assert!(e.contains("ip_unprivileged_port_start"), "{e}");
    let e = b.fail(
        125,
        &[
            "run",
            "--rm",
            "--network",
            "bridge",
            "-p",
            "18081:80/udp",
            "busybox",
            "true",
        ],
    );
    assert!(e.contains("tcp ports only on bridge networks"), "{e}");
    // The container's resolver is pasta's forwarder.
    let resolv = b.ok(&["run", "--rm", "busybox", "cat", "/etc/resolv.conf"]);
    assert!(resolv.contains("nameserver 169.254.1.1"), "{resolv}");

    // kill -9 of the monitor and the container: the next command finds it dead and ends
    // pasta.
    let id = b.ok(&["inspect", "-f", "{{.Id}}", "web"]);
    let monitors: Vec<String> = b
        .processes("berth-monitor")
        .into_iter()
        .filter(|p| p.contains(id.trim()))
        .collect();
    assert_eq!(monitors.len(), 1, "{monitors:?}");
    let init = b.ok(&["inspect", "-f", "{{.State.Pid}}", "web"]);
    let st = Command::new("kill")
        .args(["-9", monitors[0].split(' ').next().unwrap(), init.trim()])
        .status()
        .unwrap();
    assert!(st.success());
    std::thread::sleep(std::time::Duration::from_millis(200));
    b.ok(&["ps", "-a"]);
    b.assert_no_pasta();
    b.ok(&["rm", "-f", "web"]);
    b.assert_clean();
}

#[test]
fn user_networks_resolve_names_and_reach_the_host_from_the_users_namespace() {
    let _one = serial();
    host_like_network();
    let b = Rootless::new(user("berth-rl", true));
    b.import_busybox(&[]);
    // A server on the host's loopback, for the way out: pasta takes the default gateway's
    // address to the host.
    let www = b.dir.path().join("www");
    std::fs::create_dir(&www).unwrap();
    std::fs::write(www.join("index.html"), "host-here\n").unwrap();
    let mut host = Command::new("busybox")
        .args(["httpd", "-f", "-p", "127.0.0.1:18090", "-h"])
        .arg(&www)
        .spawn()
        .unwrap();
    b.ok(&["network", "create", "appnet"]);
    b.ok(&[
        "run",
        "-d",
        "--name",
        "db",
        "--network",
        "appnet",
        "--network-alias",
        "store",
        "busybox",
        "sh",
        "-c",
        "echo db-here > /srv/index.html; exec httpd -f -p 80 -h /srv",
    ]);
    // (busybox's own `wget -T` crashes; `timeout` from a shell that stays PID 1 instead.)
    let fetch = |net: &str, url: &str| {
        let cmd = format!("timeout 5 wget -q -O - {url}; exit $?");
        b.run(&["run", "--rm", "--network", net, "busybox", "sh", "-c", &cmd])
    };
    let fetched = |net: &str, url: &str| {
        let o = fetch(net, url);
        assert!(o.status.success(), "{url} on {net}: {o:?}");
        String::from_utf8(o.stdout).unwrap()
    };
    assert_eq!(fetched("appnet", "http://db/"), "db-here\n");
    assert_eq!(fetched("appnet", "http://store/"), "db-here\n");
    assert_eq!(
        fetched("appnet", "http://192.0.2.254:18090/"),
        "host-here\n"
    );
    assert_eq!(
        fetched("bridge", "http://192.0.2.254:18090/"),
        "host-here\n"
    );
    // Not across networks: the default one has no name for it.
    let o = fetch("bridge", "http://db/");
    assert!(!o.status.success(), "{o:?}");
    // A published port on a user network, from the host's loopback and its address.
    b.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "appnet",
        "-p",
        "18091:80",
        "busybox",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/srv",
    ]);
    b.ok(&["exec", "web", "sh", "-c", "echo web-here > /srv/index.html"]);
    for url in ["http://127.0.0.1:18091/", "http://192.0.2.1:18091/"] {
        let o = Command::new("busybox")
            .args(["wget", "-qO-", url])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            "web-here\n",
            "{url}: {o:?}"
        );
    }
    assert_eq!(b.processes("berth-ports").len(), 1);
    b.ok(&["rm", "-f", "web"]);
    assert!(b.processes("berth-ports").is_empty());
    // Its port is free again.
    drop(std::net::TcpListener::bind("0.0.0.0:18091").unwrap());
    // The bridges are in the user's namespace, not the host's.
    let links = Command::new("ip").args(["-o", "link"]).output().unwrap();
    let links = String::from_utf8(links.stdout).unwrap();
    assert!(!links.contains("berth"), "{links}");
    assert!(b.run_dir().join("berth/netns").exists());
    b.ok(&["rm", "-f", "db"]);
    b.ok(&["network", "rm", "appnet"]);
    // The last container gone, so is the namespace, with its pasta.
    b.assert_clean();
    assert!(!b.run_dir().join("berth/netns").exists());
    let _ = host.kill();
    let _ = host.wait();
}

#[test]
fn without_pasta_slirp4netns_carries_the_default_network() {
    let _one = serial();
    host_like_network();
    let mut b = Rootless::new(user("berth-rl", true));
    b.import_busybox(&[]);
    // A PATH with the id map helpers and nothing else: neither tool, both packages named.
    let bin = b.dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let link = |h: &str| {
        std::os::unix::fs::symlink(Path::new("/usr/bin").join(h), bin.join(h)).unwrap();
    };
    link("newuidmap");
    link("newgidmap");
    b.path = Some(bin.display().to_string());
    let e = b.fail(125, &["run", "--rm", "busybox", "true"]);
    assert!(e.contains("passt") && e.contains("slirp4netns"), "{e}");
    b.assert_clean();
    assert!(b.ok(&["info"]).contains("neither pasta nor slirp4netns"));
    // A bridge network's home needs pasta too: the start fails in one line and gives its
    // address back, and the home goes with it.
    let e = b.fail(
        125,
        &["run", "--rm", "--network", "bridge", "busybox", "true"],
    );
    assert!(e.contains("passt"), "{e}");
    b.assert_clean();
    let leases = b.data().join("berth/networks");
    let held = Command::new("find")
        .arg(&leases)
        .args(["-path", "*/leases/*"])
        .output()
        .unwrap();
    assert!(held.stdout.is_empty(), "{held:?}");
    assert!(!b.run_dir().join("berth/netns").exists());

    // slirp4netns alone: the default network, its address, name server and forwarded port.
    link("slirp4netns");
    assert!(b.ok(&["info"]).contains("slirp4netns (/"));
    let out = b.ok(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "ip -4 addr show tap0; cat /etc/resolv.conf",
    ]);
    assert!(out.contains("inet 10.0.2.100/24"), "{out}");
    assert!(out.contains("nameserver 10.0.2.3"), "{out}");
    b.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        "127.0.0.1:18081:80",
        "busybox",
        "sh",
        "-c",
        "echo hello > /srv/index.html; exec httpd -f -p 80 -h /srv",
    ]);
    assert_eq!(
        b.ok(&["inspect", "-f", "{{.HostConfig.NetworkMode}}", "web"])
            .trim(),
        "slirp4netns"
    );
    let mut answer = None;
    for _ in 0..50 {
        let o = Command::new("busybox")
            .args(["wget", "-qO-", "http://127.0.0.1:18081/"])
            .output()
            .unwrap();
        if o.status.success() {
            answer = Some(String::from_utf8(o.stdout).unwrap());
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(answer.as_deref(), Some("hello\n"));
    assert_eq!(b.processes("slirp4netns").len(), 1);
    // A port below ip_unprivileged_port_start: one line, nothing left.
    let e = b.fail(125, &["run", "--rm", "-p", "80:80", "busybox", "true"]);
    assert!(e.contains("ip_unprivileged_port_start"), "{e}");
    b.ok(&["rm", "-f", "web"]);
    eventually("slirp4netns ended", || {
        b.processes("slirp4netns").is_empty()
    });
    b.assert_clean();
}

#[test]
fn two_users_do_not_see_each_others_containers_or_images() {
    let _one = serial();
    private_network();
    let a = Rootless::new(user("berth-rl", true));
    let b = Rootless::new(user("berth-rl2", true));
    a.import_busybox(&[]);
    a.ok(&[
        "run",
        "-d",
        "--name",
        "mine",
        "--network",
        "none",
        "busybox",
        "sleep",
        "60",
    ]);
    assert!(b.ok(&["ps", "-a", "-q"]).is_empty());
    assert!(b.ok(&["images", "-q"]).is_empty());
    // The other user's store is closed to it, as are its files through berth.
    let peek = Command::new("runuser")
        .args(["-u", b.user.name, "--", "ls"])
        .arg(a.data().join("berth"))
        .output()
        .unwrap();
    assert!(!peek.status.success());
    let root = a.data().join("berth");
    let o = b.run(&["--root", root.to_str().unwrap(), "ps", "-a"]);
    assert!(!o.status.success());
    a.ok(&["rm", "-f", "mine"]);
    a.assert_clean();
}

#[test]
fn containers_outlive_a_killed_namespace_holder() {
    let _one = serial();
    private_network();
    let b = Rootless::new(user("berth-rl", true));
    b.import_busybox(&[]);
    b.ok(&[
        "run",
        "-d",
        "--name",
        "k",
        "--network",
        "none",
        "busybox",
        "sleep",
        "60",
    ]);
    let old = b.keeper();
    let st = Command::new("kill")
        .args(["-9", &old.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    // The next command holds the namespaces the container was made in again: exec joins it.
    assert_eq!(b.ok(&["exec", "k", "echo", "still"]).trim(), "still");
    assert_ne!(b.keeper(), old);
    b.ok(&["rm", "-f", "k"]);
    b.assert_clean();
}

#[test]
fn an_unusable_runtime_directory_is_one_line_naming_the_fix() {
    let _one = serial();
    let b = Rootless::new(user("berth-rl", true));
    let mut c = Command::new("runuser");
    c.args(["-u", b.user.name, "--", "env", "-i", "PATH=/usr/bin:/bin"])
        .arg(format!("HOME={}", b.dir.path().display()))
        .args(["XDG_RUNTIME_DIR=/", BIN, "ps"]);
    let o = c.output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("XDG_RUNTIME_DIR /"), "{err}");
    assert!(err.contains("set it to a directory of yours"), "{err}");
}

/// Gives the user's berth `file` in its configuration directory (~/.config/berth).
fn configure(b: &Rootless, file: &str, text: &str) {
    let dir = b.dir.path().join(".config/berth");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(file), text).unwrap();
    for d in [b.dir.path().join(".config"), dir.clone(), dir.join(file)] {
        std::os::unix::fs::chown(d, Some(b.user.uid), Some(b.user.gid)).unwrap();
    }
}

/// Copies `from` into `b`'s directory, owned by its user; returns the copy's path.
fn hand_over(from: &Path, b: &Rootless) -> PathBuf {
    let to = b.dir.path().join(from.file_name().unwrap());
    std::fs::copy(from, &to).unwrap();
    std::os::unix::fs::chown(&to, Some(b.user.uid), Some(b.user.gid)).unwrap();
    to
}

#[test]
fn volumes_build_push_pull_commit_save_and_load_as_users() {
    let _one = serial();
    private_network();
    let a = Rootless::new(user("berth-rl", true));
    let b = Rootless::new(user("berth-rl2", true));
    let _registry = Registry::start(a.dir.path(), false);
    for r in [&a, &b] {
        configure(
            r,
            "registries.toml",
            "[[registry]]\nlocation = \"127.0.0.1:5000\"\ninsecure = true\n",
        );
    }
    a.import_busybox(&[]);

    // Volumes: written by the container's root, kept, removed.
    a.ok(&["volume", "create", "vol"]);
    fn with<'a>(args: &[&'a str]) -> Vec<&'a str> {
        [&["run", "--rm", "--network", "none"][..], args].concat()
    }
    a.ok(&with(&[
        "-v",
        "vol:/data",
        "busybox",
        "sh",
        "-c",
        "echo kept > /data/f",
    ]));
    let out = a.ok(&with(&["-v", "vol:/data", "busybox", "cat", "/data/f"]));
    assert_eq!(out, "kept\n");
    assert!(a.ok(&["volume", "ls", "-q"]).lines().any(|l| l == "vol"));
    // A bind mount of the user's own directory: the user's files are root's inside.
    let own = a.dir.path().join("own");
    std::fs::create_dir(&own).unwrap();
    std::os::unix::fs::chown(&own, Some(a.user.uid), Some(a.user.gid)).unwrap();
    let bind = format!("{}:/mnt", own.display());
    let out = a.ok(&with(&["-v", &bind, "busybox", "stat", "-c", "%u", "/mnt"]));
    assert_eq!(out, "0\n");

    // build: a RUN's owners and COPY --chown land in the layers as in the image.
    let ctx = a.dir.path().join("ctx");
    std::fs::create_dir(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\n\
         RUN echo hi > /hello && echo app:x:1234:1234::/:/bin/sh >> /etc/passwd && chown app /hello\n\
         COPY --chown=33:33 f /srv/f\n\
         USER app\n\
         CMD [\"sh\", \"-c\", \"id -u; stat -c %u /hello /srv/f; cat /hello\"]\n",
    )
    .unwrap();
    std::fs::write(ctx.join("f"), "data\n").unwrap();
    let st = Command::new("chown")
        .args(["-R", &format!("{}:{}", a.user.uid, a.user.gid)])
        .arg(&ctx)
        .status()
        .unwrap();
    assert!(st.success());
    a.ok(&[
        "build",
        "-q",
        "--network",
        "none",
        "-t",
        "t1",
        ctx.to_str().unwrap(),
    ]);
    let owners = "1234\n1234\n33\nhi\n";
    assert_eq!(a.ok(&with(&["t1"])), owners);

    // push by one user, pull by another: the owners come through the registry.
    a.ok(&["tag", "t1", "127.0.0.1:5000/t1"]);
    a.ok(&["push", "-q", "127.0.0.1:5000/t1"]);
    b.ok(&["pull", "-q", "127.0.0.1:5000/t1"]);
    assert_eq!(b.ok(&with(&["127.0.0.1:5000/t1"])), owners);

    // A running container: top, stats, logs, restart, commit (without a cgroup to freeze
    // here: committed running, with a warning), export, save; loaded by the other user.
    a.ok(&[
        "run",
        "-d",
        "--name",
        "d",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "echo made > /made; echo started; exec sleep 600",
    ]);
    eventually("the container's output", || {
        a.ok(&["logs", "d"]).contains("started")
    });
    assert!(a.ok(&["top", "d"]).contains("sleep 600"));
    assert!(a.ok(&["stats", "--no-stream", "d"]).contains(" d "));
    a.ok(&["restart", "-t", "1", "d"]);
    eventually("the restarted container's output", || {
        a.ok(&["logs", "d"]).matches("started").count() == 2
    });
    a.ok(&["commit", "d", "c1"]);
    let saved = a.dir.path().join("c1.tar");
    a.ok(&["save", "-o", saved.to_str().unwrap(), "c1"]);
    let exported = a.dir.path().join("d.tar");
    a.ok(&["export", "-o", exported.to_str().unwrap(), "d"]);
    let list = Command::new("tar")
        .arg("-tf")
        .arg(&exported)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&list.stdout)
        .lines()
        .any(|l| l.trim_start_matches("./") == "made"));
    let copy = hand_over(&saved, &b);
    b.ok(&["load", "-i", copy.to_str().unwrap()]);
    assert_eq!(b.ok(&with(&["c1", "cat", "/made"])), "made\n");

    a.ok(&["rm", "-f", "d"]);
    a.ok(&["volume", "rm", "vol"]);
    a.assert_clean();
    b.assert_clean();
}

/// A cgroup v2 limit's value as the container reads it, and the container's cgroup directory
/// on the host as `dir_of(id)` names it while it runs; gone after `rm -f`.
fn limits_work(b: &Rootless, dir_of: impl Fn(&str) -> PathBuf) {
    b.import_busybox(&[]);
    let out = b.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-m",
        "64m",
        "--pids-limit",
        "30",
        "busybox",
        "cat",
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/pids.max",
    ]);
    assert_eq!(out, "67108864\n30\n");
    let id = b.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "-m",
        "64m",
        "busybox",
        "sleep",
        "600",
    ]);
    let dir = dir_of(id.trim());
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    assert_eq!(read("memory.max"), "67108864\n");
    b.ok(&["update", "--memory", "128m", id.trim()]);
    assert_eq!(read("memory.max"), "134217728\n");
    b.ok(&["rm", "-f", id.trim()]);
    eventually("the container's cgroup removed", || !dir.exists());
    b.assert_clean();
}

#[test]
fn cgroup2_limits_through_the_users_systemd() {
    // Needs cgroup v2 and a user manager: the systemd VM of stage 42 runs it.
    if !systemd_here() {
        return;
    }
    let _one = serial();
    let u = user("berth-rl", true);
    let uid = u.uid;
    let service = format!("user@{uid}.service");
    let st = Command::new("systemctl")
        .args(["start", &service])
        .status()
        .unwrap();
    assert!(st.success(), "systemctl start {service}");
    let xdg = PathBuf::from(format!("/run/user/{uid}"));
    eventually("the user's bus", || xdg.join("bus").exists());
    let mut b = Rootless::new(u);
    // As a login session has it: the manager's XDG_RUNTIME_DIR, with its bus.
    b.runtime_dir = Some(xdg);
    limits_work(&b, |id| {
        Path::new("/sys/fs/cgroup/user.slice").join(format!(
            "user-{uid}.slice/{service}/user.slice/berth-{id}.scope"
        ))
    });
    drop(b);
    let _ = Command::new("systemctl").args(["stop", &service]).status();
}

#[test]
fn cgroup2_limits_in_a_delegated_subtree() {
    if !systemd_here() {
        return;
    }
    let _one = serial();
    let u = user("berth-rl2", true);
    // A subtree delegated as systemd's Delegate=yes does it: the user owns the directory and
    // its files; the user's commands run in a leaf below it.
    let top = PathBuf::from("/sys/fs/cgroup/berth-test-delegated");
    std::fs::create_dir_all(top.join("leaf")).unwrap();
    let st = Command::new("chown")
        .arg("-R")
        .arg(format!("{}:{}", u.uid, u.gid))
        .arg(&top)
        .status()
        .unwrap();
    assert!(st.success());
    let mut b = Rootless::new(u);
    // No bus in its XDG_RUNTIME_DIR: berth's own cgroup manager, beside the leaf.
    b.cgroup = Some(top.join("leaf"));
    limits_work(&b, |id| top.join("berth").join(id));
    drop(b);
    for d in ["berth", "leaf", ""] {
        let d = top.join(d);
        eventually(&format!("{} removed", d.display()), || {
            std::fs::remove_dir(&d).is_ok() || !d.exists()
        });
    }
}
