//! The Docker Engine API service (`berth system service`) driven by the real clients, as
//! users drive it: Debian's docker CLI (docker.io, with no dockerd), docker-compose and the
//! Python SDK (python3-docker). Each test checks with the `berth` CLI that both see the same
//! state, and that nothing is left once the clients are done.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::engine::{eventually, output_within, Engine, Registry};
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// No client command in these tests may take longer.
const TIMEOUT: Duration = Duration::from_secs(120);

/// Debian's docker client (docker.io), whatever else is first on PATH.
const DOCKER: &str = "/usr/bin/docker";

/// A running `berth system service` on a socket in the test's directory, or on a TCP port.
struct Api<'a> {
    e: &'a Engine,
    child: Child,
    socket: PathBuf,
    /// The clients' DOCKER_HOST.
    host: String,
    /// The clients' DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem), for a TLS service.
    cert_path: Option<PathBuf>,
}

impl<'a> Api<'a> {
    fn start(e: &'a Engine) -> Api<'a> {
        Self::start_with(e, &["--time", "0"])
    }

    fn start_with(e: &'a Engine, flags: &[&str]) -> Api<'a> {
        Self::start_with_env(e, flags, &[])
    }

    /// The service with `env` added to its environment.
    fn start_with_env(e: &'a Engine, flags: &[&str], env: &[(&str, &Path)]) -> Api<'a> {
        let socket = e.b.dir.path().join("api.sock");
        let uri = format!("unix://{}", socket.display());
        let child = Self::spawn(e, flags, &uri, None, env);
        eventually("the service listens", || {
            UnixStream::connect(&socket).is_ok()
        });
        Api {
            e,
            child,
            socket,
            host: uri,
            cert_path: None,
        }
    }

    /// The service on `tcp://127.0.0.1:PORT` with `flags`; the clients use the certificates
    /// in `cert_path` when given.
    fn start_tcp(e: &'a Engine, flags: &[&str], cert_path: Option<&Path>) -> Api<'a> {
        let port = free_port();
        let uri = format!("tcp://127.0.0.1:{port}");
        let child = Self::spawn(
            e,
            flags,
            &uri,
            Some(&e.b.dir.path().join("service.err")),
            &[],
        );
        eventually("the service listens", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Api {
            e,
            child,
            socket: PathBuf::new(),
            host: uri,
            cert_path: cert_path.map(Path::to_path_buf),
        }
    }

    /// `berth system service FLAGS URI` with `env`, its stderr into `stderr` when given.
    fn spawn(
        e: &Engine,
        flags: &[&str],
        uri: &str,
        stderr: Option<&Path>,
        env: &[(&str, &Path)],
    ) -> Child {
        let mut args = vec!["system", "service"];
        args.extend_from_slice(flags);
        args.push(uri);
        let mut c = e.b.cmd(&args);
        c.stdin(Stdio::null()).stdout(Stdio::null());
        c.envs(env.iter().copied());
        if let Some(path) = stderr {
            c.stderr(std::fs::File::create(path).unwrap());
        }
        c.spawn().unwrap()
    }

    /// A client program with DOCKER_HOST on the service and its config in the test's dir.
    fn client(&self, program: &str) -> Command {
        assert!(
            Path::new(program).exists() || which(program),
            "{program} is not installed (see .ci/packages)"
        );
        let mut c = Command::new(program);
        if let Some(certs) = &self.cert_path {
            c.env("DOCKER_TLS_VERIFY", "1")
                .env("DOCKER_CERT_PATH", certs);
        }
        c.env("DOCKER_HOST", &self.host)
            .env("DOCKER_CONFIG", self.e.b.dir.path().join("docker-config"))
            .env("HOME", self.e.b.dir.path())
            .env_remove("DOCKER_BUILDKIT")
            .stdin(Stdio::null());
        c
    }

    fn docker(&self, args: &[&str]) -> Output {
        let mut c = self.client(DOCKER);
        c.args(args);
        output_within(c, TIMEOUT, &format!("docker {args:?}"))
    }

    /// `docker ARGS` with the certificates in `cert_path` instead of the test's.
    fn docker_as(&self, cert_path: &Path, args: &[&str]) -> Output {
        let mut c = self.client(DOCKER);
        c.env("DOCKER_CERT_PATH", cert_path).args(args);
        output_within(c, TIMEOUT, &format!("docker {args:?}"))
    }

    /// `docker ARGS`, which must succeed; its stdout.
    fn docker_ok(&self, args: &[&str]) -> String {
        let o = self.docker(args);
        assert!(
            o.status.success(),
            "docker {args:?} failed ({:?}): {}{}",
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    /// One request on a connection of its own: the status and the body.
    fn request(&self, method: &str, path: &str, body: &[u8]) -> (u16, String) {
        let mut s = UnixStream::connect(&self.socket).unwrap();
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: berth\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        // A server may answer (and close) before it has read a body it refuses.
        let _ = s.write_all(body);
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
        let answer = String::from_utf8_lossy(&answer).into_owned();
        let status = answer
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("{method} {path}: no HTTP answer: {answer:?}"));
        let body = answer
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, body)
    }

    /// The service's open file descriptors.
    fn fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .unwrap()
            .count()
    }
}

impl Api<'_> {
    /// Stops the service (the containers stay, as they would).
    fn stop(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// The end of a test: no container through the API nor the CLI, the service stopped,
    /// and nothing of any container left on the host.
    fn finish(self) {
        assert_eq!(same_containers(&self), "");
        let e = self.e;
        self.stop();
        e.assert_clean();
    }
}

impl Drop for Api<'_> {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nobody listens on at 127.0.0.1 just now.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn which(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `berth ps -a -q --no-trunc`, and the same list through the API.
fn same_containers(api: &Api<'_>) -> String {
    let ours = api.e.ok(&["ps", "-a", "-q", "--no-trunc"]);
    let theirs = api.docker_ok(&["ps", "-a", "-q", "--no-trunc"]);
    let sorted = |s: &str| {
        let mut v: Vec<&str> = s.lines().collect();
        v.sort();
        v.join("\n")
    };
    assert_eq!(
        sorted(&ours),
        sorted(&theirs),
        "berth ps and docker ps differ"
    );
    ours
}

#[test]
fn docker_cli_runs_attends_and_removes_containers() {
    let e = Engine::new();
    let api = Api::start(&e);
    let parent = e.cgroup_parent.as_str();
    // Foreground: output and exit status come through the attach and the wait.
    let o = api.docker(&[
        "run",
        "--rm",
        "--cgroup-parent",
        parent,
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(o.status.code(), Some(3), "{o:?}");
    assert_eq!(text(&o), "out\n");
    assert_eq!(String::from_utf8_lossy(&o.stderr), "err\n");
    // Input on a pipe, closed at its end.
    let mut c = api.client(DOCKER);
    c.args([
        "run",
        "-i",
        "--rm",
        "--cgroup-parent",
        parent,
        "busybox",
        "sh",
        "-c",
        "cat; echo done",
    ])
    .stdin(Stdio::piped())
    .stdout(Stdio::piped());
    let mut child = c.spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"piped\n").unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(text(&o), "piped\ndone\n");
    assert_eq!(same_containers(&api), "", "--rm containers are gone");

    // Detached, with a published port, a label and a volume.
    let id = api.docker_ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--cgroup-parent",
        parent,
        "-p",
        "127.0.0.1:18080:8000",
        "-l",
        "tier=front",
        "-v",
        "webdata:/data",
        "busybox",
        "sh",
        "-c",
        "echo started; exec httpd -f -p 8000 -h /etc",
    ]);
    let id = id.trim();
    assert_eq!(same_containers(&api).trim(), id);
    eventually("the web server answers", || {
        Command::new("busybox")
            .args(["wget", "-q", "-O", "-", "http://127.0.0.1:18080/passwd"])
            .output()
            .is_ok_and(|o| o.status.success() && text(&o).starts_with("root:"))
    });
    assert_eq!(
        api.docker_ok(&[
            "ps",
            "--filter",
            "label=tier=front",
            "--format",
            "{{.Names}} {{.Ports}}"
        ]),
        "web 127.0.0.1:18080->8000/tcp\n"
    );
    assert_eq!(
        api.docker_ok(&[
            "inspect",
            "--format",
            "{{.State.Running}} {{.Name}} {{.Config.Image}}",
            "web"
        ]),
        "true /web busybox\n"
    );
    assert_eq!(
        e.inspect("web")["Id"],
        id,
        "berth inspect sees the same container"
    );
    assert_eq!(api.docker_ok(&["logs", "web"]), "started\n");
    assert!(api.docker_ok(&["top", "web"]).contains("httpd"));
    let stats = api.docker_ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.PIDs}}",
        "web",
    ]);
    assert_eq!(stats, "web 1\n");

    // exec: output, status, input.
    let o = api.docker(&["exec", "web", "sh", "-c", "echo in-exec; exit 4"]);
    assert_eq!((o.status.code(), text(&o).as_str()), (Some(4), "in-exec\n"));
    let mut c = api.client(DOCKER);
    c.args(["exec", "-i", "web", "sh", "-c", "cat > /data/from-exec"])
        .stdin(Stdio::piped());
    let mut child = c.spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"kept\n").unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(e.ok(&["exec", "web", "cat", "/data/from-exec"]), "kept\n");

    // cp both ways.
    let host_file = e.b.dir.path().join("from-host");
    std::fs::write(&host_file, "copied in\n").unwrap();
    api.docker_ok(&["cp", host_file.to_str().unwrap(), "web:/tmp/"]);
    assert_eq!(
        e.ok(&["exec", "web", "cat", "/tmp/from-host"]),
        "copied in\n"
    );
    let out = e.b.dir.path().join("out");
    api.docker_ok(&["cp", "web:/data/from-exec", out.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "kept\n");
    let o = api.docker(&["cp", "web:/nonexistent", out.to_str().unwrap()]);
    assert!(!o.status.success());

    // attach sees new output; stop, start, restart, kill, rm.
    let mut attach = api.client(DOCKER);
    attach
        .args(["attach", "--no-stdin", "--sig-proxy=false", "web"])
        .stdout(Stdio::piped());
    let mut attach = attach.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    api.docker_ok(&["stop", "-t", "1", "web"]);
    assert!(attach.wait().is_ok(), "attach ends with the container");
    assert_eq!(
        api.docker_ok(&["inspect", "--format", "{{.State.Status}}", "web"]),
        "exited\n"
    );
    api.docker_ok(&["start", "web"]);
    api.docker_ok(&["restart", "-t", "1", "web"]);
    assert_eq!(e.inspect("web")["State"]["Status"], "running");
    api.docker_ok(&["kill", "web"]);
    let o = api.docker(&["kill", "web"]);
    assert!(!o.status.success(), "a stopped container cannot be killed");
    api.docker_ok(&["rm", "-v", "web"]);
    api.docker_ok(&["volume", "rm", "webdata"]);
    let o = api.docker(&["inspect", "web"]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("No such object"),
        "{o:?}"
    );
    api.finish();
}

#[test]
fn docker_cli_terminals_go_through_a_pty() {
    let e = Engine::new();
    let api = Api::start(&e);
    // `script` gives the docker client the terminal `-t` wants.
    let script = |cmd: &str| {
        let mut c = api.client("script");
        c.args(["-qec", cmd, "/dev/null"]);
        output_within(c, TIMEOUT, cmd)
    };
    let o = script(&format!(
        "{DOCKER} run --rm -it --cgroup-parent {} busybox sh -c 'test -t 0 && echo on-a-tty; exit 5'",
        e.cgroup_parent
    ));
    assert_eq!(o.status.code(), Some(5), "{o:?}");
    assert!(text(&o).contains("on-a-tty"), "{o:?}");
    api.docker_ok(&[
        "run",
        "-d",
        "--name",
        "t",
        "--cgroup-parent",
        &e.cgroup_parent,
        "busybox",
        "sleep",
        "60",
    ]);
    let o = script(&format!(
        "{DOCKER} exec -it t sh -c 'test -t 1 && echo exec-tty; exit 6'"
    ));
    assert_eq!(o.status.code(), Some(6), "{o:?}");
    assert!(text(&o).contains("exec-tty"), "{o:?}");
    api.docker_ok(&["rm", "-f", "t"]);
    api.finish();
}

#[test]
fn docker_cli_moves_and_builds_images() {
    let e = Engine::new();
    e.b.insecure("127.0.0.1:5000");
    let _registry = Registry::start(e.b.dir.path(), true);
    let api = Api::start(&e);
    api.docker_ok(&["tag", "busybox", "127.0.0.1:5000/bb:1"]);
    // Credentials travel from the client's `docker login` in X-Registry-Auth.
    let o = api.docker(&["push", "127.0.0.1:5000/bb:1"]);
    assert!(!o.status.success(), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("authentication required"),
        "{o:?}"
    );
    let o = api.docker(&["login", "-u", "tester", "-p", "wrong", "127.0.0.1:5000"]);
    assert!(!o.status.success(), "{o:?}");
    api.docker_ok(&["login", "-u", "tester", "-p", "testpass", "127.0.0.1:5000"]);
    let pushed = api.docker_ok(&["push", "127.0.0.1:5000/bb:1"]);
    assert!(pushed.contains("digest: sha256:"), "{pushed}");
    api.docker_ok(&["rmi", "127.0.0.1:5000/bb:1"]);
    let o = api.docker(&["image", "inspect", "127.0.0.1:5000/bb:1"]);
    assert!(!o.status.success());
    // `run` of an image that is not here pulls it, as docker's client does.
    let o = api.docker(&[
        "run",
        "--rm",
        "--cgroup-parent",
        &e.cgroup_parent,
        "127.0.0.1:5000/bb:1",
        "echo",
        "pulled",
    ]);
    assert!(text(&o).ends_with("pulled\n"), "{o:?}");
    assert!(e.ok(&["images"]).contains("127.0.0.1:5000/bb"));
    let o = api.docker(&["pull", "127.0.0.1:5000/nothing:here"]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("manifest unknown"),
        "{o:?}"
    );

    // save | load, and history.
    let archive = e.b.dir.path().join("bb.tar");
    let mut save = api.client(DOCKER);
    save.args(["save", "127.0.0.1:5000/bb:1"])
        .stdout(std::fs::File::create(&archive).unwrap());
    assert!(save.status().unwrap().success());
    api.docker_ok(&["rmi", "127.0.0.1:5000/bb:1"]);
    let mut load = api.client(DOCKER);
    load.arg("load")
        .stdin(std::fs::File::open(&archive).unwrap())
        .stdout(Stdio::piped());
    let loaded = output_within(load, TIMEOUT, "docker load");
    assert!(
        text(&loaded).contains("Loaded image: 127.0.0.1:5000/bb:1"),
        "{loaded:?}"
    );
    assert!(api
        .docker_ok(&["history", "127.0.0.1:5000/bb:1"])
        .contains("berth import"));

    // import: a root filesystem tar as the request body, with a change and a message.
    let tar = e.busybox_tar();
    let id = api.docker_ok(&[
        "import",
        "--change",
        "CMD [\"echo\", \"imported\"]",
        "--message",
        "from docker import",
        tar.to_str().unwrap(),
        "imported:1",
    ]);
    assert!(id.starts_with("sha256:"), "{id}");
    let run = [
        "run",
        "--rm",
        "--network",
        "none",
        "--cgroup-parent",
        &e.cgroup_parent,
    ];
    assert_eq!(
        api.docker_ok(&[&run[..], &["imported:1"]].concat()),
        "imported\n"
    );
    assert!(api
        .docker_ok(&["history", "imported:1"])
        .contains("from docker import"));
    assert!(e
        .ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .contains("imported:1"));

    // import from a URL, through the service and by berth itself; a missing file is an error
    // naming the URL and the status.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new("python3")
        .args([
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            &port.to_string(),
        ])
        .current_dir(tar.parent().unwrap())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let name = tar.file_name().unwrap().to_str().unwrap();
    let url = format!("http://127.0.0.1:{port}/{name}");
    let deadline = std::time::Instant::now() + TIMEOUT;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "http.server never listened"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    api.docker_ok(&[
        "import",
        "--change",
        "CMD [\"echo\", \"from-url\"]",
        &url,
        "url:1",
    ]);
    assert_eq!(
        api.docker_ok(&[&run[..], &["url:1"]].concat()),
        "from-url\n"
    );
    e.ok(&["import", "-c", "CMD echo by-berth", &url, "url:2"]);
    assert_eq!(e.ok(&[&run[..], &["url:2"]].concat()), "by-berth\n");
    let missing = format!("http://127.0.0.1:{port}/missing.tar");
    let o = api.docker(&["import", &missing, "url:3"]);
    assert!(
        !o.status.success() && String::from_utf8_lossy(&o.stderr).contains("HTTP 404"),
        "{o:?}"
    );
    let err = e.fail(1, &["import", &missing, "url:3"]);
    assert!(err.contains(&missing) && err.contains("HTTP 404"), "{err}");
    let _ = server.kill();
    let _ = server.wait();

    // A multi-stage build from the context docker's client sends.
    let ctx = e.b.dir.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("hello.txt"), "from the context\n").unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox AS base\nRUN echo built > /built\n\
         FROM busybox\nCOPY --from=base /built /built\nCOPY hello.txt /hello.txt\n\
         CMD [\"cat\", \"/built\", \"/hello.txt\"]\n",
    )
    .unwrap();
    api.docker_ok(&["build", "-t", "multi:1", ctx.to_str().unwrap()]);
    assert_eq!(
        api.docker_ok(&[
            "run",
            "--rm",
            "--cgroup-parent",
            &e.cgroup_parent,
            "multi:1"
        ]),
        "built\nfrom the context\n"
    );
    std::fs::write(ctx.join("Dockerfile"), "FROM busybox\nRUN exit 7\n").unwrap();
    let o = api.docker(&["build", ctx.to_str().unwrap()]);
    assert!(!o.status.success(), "a failed RUN fails the build");
    let o = api.docker(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(text(&o).contains("localhost/multi:1"), "{o:?}");
    api.docker_ok(&["rmi", "multi:1", "127.0.0.1:5000/bb:1"]);
    assert!(!e.ok(&["images"]).contains("multi"));
    api.finish();
}

#[test]
fn compose_project_comes_up_and_leaves_nothing() {
    let e = Engine::new();
    let api = Api::start(&e);
    let project = e.b.dir.path().join("shop");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(
        project.join("docker-compose.yml"),
        r#"version: "3.8"
services:
  web:
    image: busybox
    command: ["httpd", "-f", "-p", "8000", "-h", "/data"]
    ports: ["127.0.0.1:18081:8000"]
    volumes: ["store:/data"]
    depends_on: [store]
  worker:
    image: busybox
    command: ["sh", "-c", "while true; do ip=$$(nslookup web | sed -n 's/^Address: //p' | tail -1); wget -q -O - http://$$ip:8000/index.html; sleep 0.5; done"]
    depends_on: [web]
  store:
    image: busybox
    command: ["sh", "-c", "echo stored > /data/index.html && exec sleep 3600"]
    volumes: ["store:/data"]
volumes:
  store: {}
"#,
    )
    .unwrap();
    let compose = |args: &[&str]| {
        let mut c = api.client("docker-compose");
        c.current_dir(&project).args(args);
        let o = output_within(c, TIMEOUT, &format!("docker-compose {args:?}"));
        assert!(o.status.success(), "docker-compose {args:?}: {o:?}");
        text(&o)
    };
    compose(&["up", "-d"]);
    let ps = compose(&["ps"]);
    for name in ["shop_web_1", "shop_worker_1", "shop_store_1"] {
        assert_eq!(ps.matches(name).count(), 1, "{ps}");
    }
    assert_eq!(same_containers(&api).lines().count(), 3);
    eventually("the published port serves the volume's page", || {
        Command::new("busybox")
            .args(["wget", "-q", "-O", "-", "http://127.0.0.1:18081/index.html"])
            .output()
            .is_ok_and(|o| text(&o) == "stored\n")
    });
    eventually("the worker reaches web by its name", || {
        compose(&["logs", "worker"]).contains("stored")
    });
    let mut exec = api.client("docker-compose");
    exec.current_dir(&project)
        .args(["exec", "-T", "store", "cat", "/data/index.html"]);
    assert_eq!(
        text(&output_within(exec, TIMEOUT, "compose exec")),
        "stored\n"
    );
    assert!(e.ok(&["network", "ls"]).contains("shop_default"));
    compose(&["down", "-v"]);
    assert!(!e.ok(&["network", "ls"]).contains("shop_default"));
    api.finish();
}

#[test]
fn python_sdk_drives_containers_images_networks_volumes() {
    let e = Engine::new();
    let api = Api::start(&e);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/api/sdk.py");
    let mut c = api.client("/usr/bin/python3");
    c.arg(&script);
    let o = output_within(c, TIMEOUT, "sdk.py");
    assert!(
        o.status.success(),
        "{}{}",
        text(&o),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(text(&o), "sdk: ok\n");
    assert!(!e.ok(&["network", "ls"]).contains("sdk-net"));
    api.finish();
}

#[test]
fn bad_requests_get_docker_errors_and_leak_nothing() {
    let e = Engine::new();
    let api = Api::start(&e);
    let mode = std::fs::metadata(&api.socket).unwrap().permissions().mode();
    assert_eq!(
        mode & 0o777,
        0o660,
        "the socket is root's and its group's only"
    );
    let fds = api.fds();
    let cases: [(&str, &str, &[u8], u16, &str); 7] = [
        (
            "POST",
            "/v1.41/containers/create",
            b"{\"Image\": \"busybox\", \"Cmd\": ",
            400,
            "request body: EOF",
        ),
        (
            "POST",
            "/v1.41/containers/create",
            b"{\"Image\": 5}",
            400,
            "invalid type",
        ),
        (
            "POST",
            "/v1.41/containers/create",
            b"{\"Image\": \"nosuch\"}",
            404,
            "not found",
        ),
        (
            "POST",
            "/v1.41/containers/create",
            b"{\"Image\": \"busybox\", \"HostConfig\": {\"UsernsMode\": \"host\"}}",
            400,
            "UsernsMode",
        ),
        ("GET", "/v1.41/swarm", b"", 501, "not supported"),
        ("GET", "/v1.99/info", b"", 400, "too new"),
        (
            "POST",
            "/v1.41/containers/nosuch/start",
            b"",
            404,
            "no such container",
        ),
    ];
    for (method, path, body, status, message) in cases {
        let (got, answer) = api.request(method, path, body);
        assert_eq!(got, status, "{method} {path}: {answer}");
        let v: serde_json::Value = serde_json::from_str(&answer).unwrap();
        assert!(
            v["message"].as_str().unwrap().contains(message),
            "{method} {path}: {answer}"
        );
    }
    // An unknown field is ignored, as dockerd does.
    let (status, answer) = api.request(
        "POST",
        "/v1.41/containers/create?name=odd",
        b"{\"Image\": \"busybox\", \"NoSuchField\": 1}",
    );
    assert_eq!(status, 201, "{answer}");
    api.docker_ok(&["rm", "odd"]);
    let huge = vec![b' '; 5 << 20];
    let (status, _) = api.request("POST", "/v1.41/containers/create", &huge);
    assert_eq!(status, 413);

    // A slow client, its request half sent, holds up no one.
    let mut slow = UnixStream::connect(&api.socket).unwrap();
    slow.write_all(b"GET /v1.41/containers/json HTTP/1.1\r\nHost: b")
        .unwrap();
    // 100 clients at once.
    let answers: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..100)
            .map(|i| {
                let api = &api;
                s.spawn(move || match i % 2 {
                    0 => api.request("GET", "/_ping", b"").0,
                    _ => api.request("GET", "/v1.41/containers/json?all=1", b"").0,
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(answers.iter().all(|&s| s == 200), "{answers:?}");
    drop(slow);

    // A client that goes away in the middle of a followed log.
    api.docker_ok(&[
        "run",
        "-d",
        "--name",
        "ticker",
        "--cgroup-parent",
        &e.cgroup_parent,
        "busybox",
        "sh",
        "-c",
        "while true; do echo tick; sleep 0.1; done",
    ]);
    for _ in 0..5 {
        let mut s = UnixStream::connect(&api.socket).unwrap();
        s.write_all(
            b"GET /v1.41/containers/ticker/logs?stdout=1&follow=1 HTTP/1.1\r\nHost: b\r\n\r\n",
        )
        .unwrap();
        let mut buf = [0u8; 512];
        assert!(s.read(&mut buf).unwrap() > 0);
    }
    api.docker_ok(&["rm", "-f", "ticker"]);
    // The baseline may still count the readiness probe's connection: no more than it.
    eventually("the service holds only the fds it had", || api.fds() <= fds);
    api.finish();
}

#[test]
fn the_service_restarts_without_touching_containers_and_exits_when_idle() {
    let e = Engine::new();
    let mut api = Api::start(&e);
    api.docker_ok(&[
        "run",
        "-d",
        "--name",
        "keeps",
        "--cgroup-parent",
        &e.cgroup_parent,
        "busybox",
        "sleep",
        "60",
    ]);
    api.child.kill().unwrap();
    api.child.wait().unwrap();
    assert_eq!(e.inspect("keeps")["State"]["Status"], "running");
    let mut api = Api::start_with(&e, &["--time", "1"]);
    assert_eq!(
        api.docker_ok(&["inspect", "--format", "{{.State.Status}}", "keeps"]),
        "running\n"
    );
    // No client for a second: it exits by itself, and the container runs on.
    let start = std::time::Instant::now();
    while api.child.try_wait().unwrap().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the idle service did not exit"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(e.inspect("keeps")["State"]["Status"], "running");
    e.ok(&["rm", "-f", "keeps"]);
    drop(api);
    e.assert_clean();
}

#[test]
fn socket_activation_serves_the_passed_socket() {
    let e = Engine::new();
    let socket = e.b.dir.path().join("activated.sock");
    // systemd-socket-activate binds the socket and passes it as systemd does (fd 3,
    // LISTEN_FDS, LISTEN_PID), starting the service on the first connection.
    let berth = env!("CARGO_BIN_EXE_berth");
    let mut activator = Command::new("systemd-socket-activate")
        .arg("-l")
        .arg(&socket)
        .args([berth, "--root"])
        .arg(&e.b.root)
        .arg("--config")
        .arg(&e.b.config)
        .args(["system", "service", "--time", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("systemd-socket-activate installed (see .ci/packages)");
    eventually("the socket is bound", || socket.exists());
    let mut c = Command::new(DOCKER);
    c.env("DOCKER_HOST", format!("unix://{}", socket.display()))
        .env("DOCKER_CONFIG", e.b.dir.path().join("docker-config"))
        .args([
            "run",
            "--rm",
            "--cgroup-parent",
            &e.cgroup_parent,
            "busybox",
            "echo",
            "activated",
        ]);
    let o = output_within(c, TIMEOUT, "docker run through an activated socket");
    let _ = activator.kill();
    let _ = activator.wait();
    assert_eq!(text(&o), "activated\n", "{o:?}");
    e.assert_clean();
}

/// `openssl ARGS` in `dir`, which must succeed.
fn openssl(dir: &Path, args: &[&str]) {
    let o = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl installed (see .ci/packages)");
    assert!(
        o.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A CA in `dir` (ca.pem, ca-key.pem), and `make(name, extensions)` for a key and a
/// certificate it signs (NAME-key.pem, NAME-cert.pem), as docker's guide to protecting its
/// socket makes them.
struct Ca<'a> {
    dir: &'a Path,
    name: &'a str,
}

impl<'a> Ca<'a> {
    fn new(dir: &'a Path, name: &'a str) -> Ca<'a> {
        let key = format!("{name}-key.pem");
        let cert = format!("{name}.pem");
        openssl(
            dir,
            &[
                "ecparam",
                "-genkey",
                "-name",
                "prime256v1",
                "-noout",
                "-out",
                &key,
            ],
        );
        let subject = format!("/CN={name}");
        openssl(
            dir,
            &[
                "req", "-new", "-x509", "-days", "1", "-key", &key, "-subj", &subject, "-out",
                &cert,
            ],
        );
        Ca { dir, name }
    }

    fn make(&self, name: &str, extensions: &str) {
        let (key, csr, cert, ext) = (
            format!("{name}-key.pem"),
            format!("{name}.csr"),
            format!("{name}-cert.pem"),
            format!("{name}.ext"),
        );
        std::fs::write(self.dir.join(&ext), extensions).unwrap();
        openssl(
            self.dir,
            &[
                "ecparam",
                "-genkey",
                "-name",
                "prime256v1",
                "-noout",
                "-out",
                &key,
            ],
        );
        let subject = format!("/CN={name}");
        openssl(
            self.dir,
            &["req", "-new", "-key", &key, "-subj", &subject, "-out", &csr],
        );
        let (ca, ca_key) = (
            format!("{}.pem", self.name),
            format!("{}-key.pem", self.name),
        );
        openssl(
            self.dir,
            &[
                "x509",
                "-req",
                "-days",
                "1",
                "-in",
                &csr,
                "-CA",
                &ca,
                "-CAkey",
                &ca_key,
                "-CAcreateserial",
                "-out",
                &cert,
                "-extfile",
                &ext,
            ],
        );
    }
}

/// A client's DOCKER_CERT_PATH: the CA that signed the service, and a client key and
/// certificate (from `client`).
fn cert_path(dir: &Path, name: &str, ca: &str, client: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(&path).unwrap();
    for (from, to) in [
        (format!("{ca}.pem"), "ca.pem"),
        (format!("{client}-cert.pem"), "cert.pem"),
        (format!("{client}-key.pem"), "key.pem"),
    ] {
        std::fs::copy(dir.join(from), path.join(to)).unwrap();
    }
    path
}

#[test]
fn tcp_with_tls_serves_only_clients_with_a_certificate_of_the_ca() {
    let e = Engine::new();
    let dir = e.b.dir.path().join("tls");
    std::fs::create_dir_all(&dir).unwrap();
    let ca = Ca::new(&dir, "ca");
    ca.make(
        "server",
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    );
    ca.make("client", "extendedKeyUsage=clientAuth\n");
    let rogue = Ca::new(&dir, "rogue");
    rogue.make("intruder", "extendedKeyUsage=clientAuth\n");
    let certs = cert_path(&dir, "client-certs", "ca", "client");
    let file = |f: &str| dir.join(f).display().to_string();
    let (cacert, cert, key) = (
        file("ca.pem"),
        file("server-cert.pem"),
        file("server-key.pem"),
    );
    let api = Api::start_tcp(
        &e,
        &[
            "--time",
            "0",
            "--tlsverify",
            "--tlscacert",
            &cacert,
            "--tlscert",
            &cert,
            "--tlskey",
            &key,
        ],
        Some(&certs),
    );

    // The docker CLI with its certificate (DOCKER_TLS_VERIFY, DOCKER_CERT_PATH): a run, and
    // a detached container with an exec (a hijacked connection inside TLS) and its logs.
    let parent = e.cgroup_parent.as_str();
    let out = api.docker_ok(&[
        "run",
        "--rm",
        "--cgroup-parent",
        parent,
        "busybox",
        "echo",
        "over TLS",
    ]);
    assert_eq!(out, "over TLS\n");
    api.docker_ok(&[
        "run",
        "-d",
        "--name",
        "tls",
        "--cgroup-parent",
        parent,
        "busybox",
        "sh",
        "-c",
        "echo started; sleep 60",
    ]);
    assert_eq!(
        api.docker_ok(&["exec", "tls", "cat", "/etc/hostname"])
            .len(),
        13
    );
    let mut c = api.client(DOCKER);
    c.args(["exec", "-i", "tls", "tr", "a-z", "A-Z"])
        .stdin(Stdio::piped());
    c.stdout(Stdio::piped());
    let mut child = c.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"stdin through TLS\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(text(&o), "STDIN THROUGH TLS\n");
    eventually("the container's output is logged", || {
        api.docker(&["logs", "tls"]).stdout == b"started\n"
    });
    assert_eq!(same_containers(&api).lines().count(), 1);

    // Without a certificate, with one of another CA, or without TLS: no answer.
    let url = format!("{}/_ping", api.host.replace("tcp://", "https://"));
    let curl = |extra: &[&str]| {
        Command::new("curl")
            .args(["-sS", "--max-time", "10", "--cacert", &cacert])
            .args(extra)
            .arg(&url)
            .output()
            .expect("curl installed (see .ci/packages)")
    };
    let (cc, ck) = (file("client-cert.pem"), file("client-key.pem"));
    let o = curl(&["--cert", &cc, "--key", &ck]);
    assert_eq!(text(&o), "OK", "{o:?}");
    let o = curl(&[]);
    assert!(
        !o.status.success(),
        "a client without a certificate got {o:?}"
    );
    let (ic, ik) = (file("intruder-cert.pem"), file("intruder-key.pem"));
    let o = curl(&["--cert", &ic, "--key", &ik]);
    assert!(!o.status.success(), "a client of another CA got {o:?}");
    let plain = url.replace("https://", "http://");
    let o = Command::new("curl")
        .args(["-sS", "--max-time", "10", &plain])
        .output()
        .unwrap();
    assert!(!o.status.success(), "plain HTTP got {o:?}");
    let o = api.docker_as(
        &cert_path(&dir, "intruder-certs", "ca", "intruder"),
        &["ps"],
    );
    assert!(
        !o.status.success(),
        "docker with another CA's certificate got {o:?}"
    );

    api.docker_ok(&["rm", "-f", "tls"]);
    api.finish();
}

#[test]
fn tcp_without_tls_needs_asking_and_bad_tls_files_are_named() {
    let e = Engine::new();
    let uri = format!("tcp://127.0.0.1:{}", free_port());
    let err = e.fail(1, &["system", "service", &uri]);
    assert!(err.contains("TCP is served with TLS only"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let dir = e.b.dir.path();
    std::fs::write(dir.join("junk.pem"), "not a certificate\n").unwrap();
    let junk = dir.join("junk.pem").display().to_string();
    let err = e.fail(
        1,
        &[
            "system",
            "service",
            "--tls",
            "--tlscert",
            &junk,
            "--tlskey",
            &junk,
            &uri,
        ],
    );
    assert!(
        err.contains(&format!("{junk}: not a PEM certificate chain")),
        "{err}"
    );

    // Asked for plainly: served, with a warning.
    let mut api = Api::start_tcp(&e, &["--time", "0", "--tls=false"], None);
    let out = api.docker_ok(&[
        "run",
        "--rm",
        "--cgroup-parent",
        &e.cgroup_parent,
        "busybox",
        "echo",
        "plain",
    ]);
    assert_eq!(out, "plain\n");
    let warned = std::fs::read_to_string(dir.join("service.err")).unwrap();
    assert!(
        warned.contains("plain TCP (--tls=false): anyone who reaches this address"),
        "{warned}"
    );
    api.child.kill().unwrap();
    api.child.wait().unwrap();
    e.assert_clean();
}

#[test]
fn docker_cli_gpus_reach_the_gpus_berth_finds() {
    let e = Engine::new();
    let driver = e.b.dir.path().join("driver-root");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/nvidia/fake-driver.sh"
    );
    let st = Command::new(script).arg(&driver).status().unwrap();
    assert!(st.success());
    // The same GPUs as a spec in a directory of the service's --cdi-spec-dir.
    let specs = e.b.dir.path().join("cdi");
    std::fs::create_dir_all(&specs).unwrap();
    let spec = specs.join("nvidia.yaml");
    let mut generate = e.cmd(&["cdi", "generate", "-o", spec.to_str().unwrap()]);
    assert!(generate
        .env("NVIDIA_DRIVER_ROOT", &driver)
        .status()
        .unwrap()
        .success());
    let flags = ["--time", "0", "--cdi-spec-dir", specs.to_str().unwrap()];
    let api = Api::start_with_env(&e, &flags, &[("NVIDIA_DRIVER_ROOT", &driver)]);
    let parent = e.cgroup_parent.as_str();
    // docker sends --gpus as a DeviceRequest (Count -1, or DeviceIDs, capability gpu).
    let gpus = |value: &str| {
        let args = [
            "run",
            "--rm",
            "--network",
            "none",
            "--cgroup-parent",
            parent,
        ];
        let script = ["busybox", "sh", "-c", "ls /dev | grep nvidia"];
        api.docker(&[&args[..], &["--gpus", value], &script[..]].concat())
    };
    assert_eq!(
        text(&gpus("all")),
        "nvidia-uvm\nnvidia0\nnvidia1\nnvidiactl\n"
    );
    assert_eq!(
        text(&gpus("\"device=1\"")),
        "nvidia-uvm\nnvidia1\nnvidiactl\n"
    );
    let o = gpus("5");
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("5 GPUs asked for, this host has 2"),
        "{o:?}"
    );
    // A CDI request (docker 25's --device VENDOR/CLASS=NAME) from the service's spec dirs.
    let create = serde_json::json!({
        "Image": "busybox", "Cmd": ["sh", "-c", "ls /dev | grep nvidia"],
        "HostConfig": {"NetworkMode": "none", "CgroupParent": parent,
                       "DeviceRequests": [{"Driver": "cdi", "DeviceIDs": ["nvidia.com/gpu=1"]}]}
    });
    let (status, body) = api.request(
        "POST",
        "/v1.41/containers/create",
        create.to_string().as_bytes(),
    );
    assert_eq!(status, 201, "{body}");
    let id = serde_json::from_str::<serde_json::Value>(&body).unwrap()["Id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        api.docker_ok(&["start", "-a", &id]),
        "nvidia-uvm\nnvidia1\nnvidiactl\n"
    );
    api.docker_ok(&["rm", &id]);
    api.finish();
}

#[test]
fn docker_system_df_counts_what_berth_counts() {
    let e = Engine::new();
    let api = Api::start(&e);
    api.docker_ok(&[
        "run",
        "-d",
        "--name",
        "df-run",
        "--network",
        "none",
        "-v",
        "dfdata:/data",
        "--cgroup-parent",
        &e.cgroup_parent,
        "busybox",
        "sh",
        "-c",
        "head -c 300000 /dev/zero > /data/f; echo x > /x; sleep 60",
    ]);
    api.docker_ok(&[
        "create",
        "--name",
        "df-stopped",
        "--network",
        "none",
        "busybox",
        "true",
    ]);
    eventually("the volume is written", || {
        api.docker(&["exec", "df-run", "stat", "-c", "%s", "/data/f"])
            .stdout
            == b"300000\n"
    });
    let format = "{{.Type}} {{.TotalCount}} {{.Active}} {{.Size}}";
    let theirs = api.docker_ok(&["system", "df", "--format", format]);
    let ours = e.ok(&["system", "df", "--format", format]);
    let counts = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| !l.starts_with("Build"))
            .map(|l| l.rsplit_once(' ').unwrap().0.to_string())
            .collect()
    };
    assert_eq!(
        counts(&theirs),
        ["Images 1 1", "Containers 2 1", "Local Volumes 1 1"]
    );
    assert_eq!(counts(&theirs), counts(&ours));
    // The volume's 300 kB are counted (docker writes 300kB, berth 300kB or 307.2kB).
    let volumes = theirs
        .lines()
        .find(|l| l.starts_with("Local Volumes"))
        .unwrap();
    assert!(volumes.ends_with("kB"), "{theirs}");
    api.docker_ok(&["rm", "-f", "-v", "df-run", "df-stopped"]);
    api.docker_ok(&["volume", "rm", "dfdata"]);
    api.finish();
}
