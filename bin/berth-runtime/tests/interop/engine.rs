//! The checks podman and docker share: their command lines agree on everything used here.

use crate::common::text;
use crate::{env, runtime, sh, sh_ok, wait_for, IMAGE};
use std::process::Output;

pub struct Engine {
    program: &'static str,
    /// Flags before the verb (podman's `--runtime PATH`).
    global: Vec<String>,
    /// Flags of `run` (docker's `--runtime berth`).
    run: Vec<String>,
    /// Host port published in the port test.
    port: u16,
}

impl Engine {
    pub fn podman() -> Engine {
        Engine {
            program: "podman",
            global: vec!["--runtime".into(), runtime()],
            run: vec![],
            port: 18480,
        }
    }

    pub fn docker() -> Engine {
        Engine {
            program: "docker",
            global: vec![],
            run: vec!["--runtime".into(), "berth".into()],
            port: 18481,
        }
    }

    fn args<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        self.global
            .iter()
            .map(String::as_str)
            .chain(args.iter().copied())
            .collect()
    }

    pub fn cli(&self, args: &[&str]) -> Output {
        sh(self.program, &self.args(args))
    }

    pub fn ok(&self, args: &[&str]) -> String {
        sh_ok(self.program, &self.args(args))
    }

    /// `run` with the runtime selected, then `args`.
    pub fn run(&self, args: &[&str]) -> Output {
        let mut all = vec!["run"];
        all.extend(self.run.iter().map(String::as_str));
        all.extend(args);
        self.cli(&all)
    }

    fn inspect(&self, name: &str, format: &str) -> String {
        self.ok(&["inspect", "-f", format, name]).trim().to_string()
    }

    /// Removes `name` if a failed run left it.
    fn forget(&self, name: &str) {
        let _ = self.cli(&["rm", "-f", name]);
    }
}

pub fn run_rm(e: &Engine) {
    let out = e.run(&[
        "--rm",
        IMAGE,
        "sh",
        "-c",
        "echo hello; echo oops >&2; cat /proc/1/cmdline; exit 7",
    ]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "hello\nsh\0-c\0echo hello; echo oops >&2; cat /proc/1/cmdline; exit 7\0"
    );
    assert!(text(&out.stderr).contains("oops"), "{}", text(&out.stderr));
}

pub fn detached_exec_logs_top_pause_stop(e: &Engine) {
    let n = format!("{}-detached", e.program);
    e.forget(&n);
    let script = "echo started; trap 'echo bye; exit 0' TERM; while :; do sleep 0.1; done";
    let out = e.run(&["-d", "--name", &n, IMAGE, "sh", "-c", script]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rt = match e.program {
        "podman" => e.inspect(&n, "{{.OCIRuntime}}"),
        _ => e.inspect(&n, "{{.HostConfig.Runtime}}"),
    };
    assert!(rt.contains("berth"), "runtime of {n}: {rt}");
    assert_eq!(
        e.ok(&["exec", &n, "sh", "-c", "echo in exec; id -u"]),
        "in exec\n0\n"
    );
    assert_eq!(
        e.cli(&["exec", &n, "sh", "-c", "exit 3"]).status.code(),
        Some(3)
    );
    assert_eq!(
        e.ok(&[
            "exec",
            "-e",
            "X=y",
            "-w",
            "/tmp",
            &n,
            "sh",
            "-c",
            "echo $X $PWD"
        ]),
        "y /tmp\n"
    );
    let top = e.ok(&["top", &n]);
    assert!(top.contains("while"), "top: {top}");
    wait_for("the log", 10, || {
        e.ok(&["logs", &n]).contains("started").then_some(())
    });

    e.ok(&["pause", &n]);
    assert_eq!(e.inspect(&n, "{{.State.Status}}"), "paused");
    e.ok(&["unpause", &n]);
    assert_eq!(e.inspect(&n, "{{.State.Status}}"), "running");

    e.ok(&["stop", "-t", "20", &n]);
    assert_eq!(e.inspect(&n, "{{.State.ExitCode}}"), "0");
    assert!(e.ok(&["logs", &n]).contains("bye"));
    e.ok(&["rm", &n]);
}

pub fn memory_limit_oom_kills(e: &Engine) {
    let n = format!("{}-oom", e.program);
    e.forget(&n);
    // `tail` buffers /dev/zero, which has no newline: the OOM killer ends it, the container's
    // cgroup (v1 or v2, as the runtime mounted it) counts the kill, and the shell returns
    // tail's status. One allocating process only: with `head | tail`, head's pipe writes
    // could charge the cgroup before tail's memory was freed, and under load the kernel then
    // killed the shell too.
    let script = "tail /dev/zero >/dev/null; s=$?; \
        cat /sys/fs/cgroup/memory/memory.oom_control /sys/fs/cgroup/memory.events 2>/dev/null; exit $s";
    let out = e.run(&["--name", &n, "--memory", "32m", IMAGE, "sh", "-c", script]);
    assert_eq!(
        out.status.code(),
        Some(137),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).lines().any(|l| l == "oom_kill 1"),
        "{}",
        text(&out.stdout)
    );
    // conmon 2.1 does not see OOM kills on cgroup v1, with runc either.
    if e.program == "docker" {
        assert_eq!(e.inspect(&n, "{{.State.OOMKilled}}"), "true");
    }
    e.ok(&["rm", &n]);
}

pub fn pids_limit_stops_fork(e: &Engine) {
    let script = "i=0; while [ $i -lt 20 ]; do sleep 3 & i=$((i+1)); done; wait";
    let out = e.run(&["--rm", "--pids-limit", "8", IMAGE, "sh", "-c", script]);
    assert!(!out.status.success());
    let all = text(&out.stdout) + &text(&out.stderr);
    assert!(all.contains("can't fork"), "{all}");
}

pub fn published_port_reaches_httpd(e: &Engine) {
    let n = format!("{}-web", e.program);
    e.forget(&n);
    let publish = format!("127.0.0.1:{}:80", e.port);
    let out = e.run(&[
        "-d", "--name", &n, "-p", &publish, IMAGE, "httpd", "-f", "-p", "80", "-h", "/var/www",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let url = format!("http://127.0.0.1:{}/", e.port);
    let body = wait_for("httpd", 20, || {
        let o = sh("curl", &["-sf", "--max-time", "2", &url]);
        o.status.success().then(|| text(&o.stdout))
    });
    assert_eq!(body, "hello from berth busybox\n");
    e.ok(&["rm", "-f", &n]);
}

/// `run -it` in a tmux pane: the shell has a terminal of the pane's size, and its exit code
/// comes back through the client.
pub fn interactive_tty(e: &Engine) {
    let dir = env("BERTH_INTEROP_DIR");
    let sock = format!("{dir}/tmux.sock");
    let status = format!("{dir}/{}-tty.status", e.program);
    let _ = std::fs::remove_file(&status);
    let mut cmd = vec![e.program.to_string()];
    cmd.extend(e.global.iter().cloned());
    cmd.push("run".into());
    cmd.extend(e.run.iter().cloned());
    cmd.extend(["-it", "--rm", IMAGE, "sh"].map(String::from));
    let line = format!("{}; echo $? > {status}", cmd.join(" "));
    let session = format!("{}-tty", e.program);
    let tmux = |args: &[&str]| {
        let mut all = vec!["-S", sock.as_str()];
        all.extend(args);
        sh("tmux", &all)
    };
    let out = tmux(&[
        "new-session",
        "-d",
        "-s",
        &session,
        "-x",
        "100",
        "-y",
        "30",
        &line,
    ]);
    assert!(out.status.success(), "tmux: {}", text(&out.stderr));
    let pane = || text(&tmux(&["capture-pane", "-p", "-t", &session]).stdout);
    wait_for("the shell's prompt", 30, || {
        pane().contains("/ #").then_some(())
    });
    tmux(&["send-keys", "-t", &session, "tty; echo $((6*7))", "Enter"]);
    let screen = wait_for("the answer", 10, || {
        let p = pane();
        p.lines().any(|l| l.trim() == "42").then_some(p)
    });
    assert!(screen.contains("/dev/pts/0"), "{screen}");
    // docker's client sets the terminal's size once the container has started, which can
    // come after the shell's prompt: asked again each second until it is there.
    let mut tries = 0;
    wait_for("the terminal's size", 10, || {
        if tries % 10 == 0 {
            tmux(&["send-keys", "-t", &session, "stty size", "Enter"]);
        }
        tries += 1;
        pane().contains("30 100").then_some(())
    });
    tmux(&["send-keys", "-t", &session, "exit 5", "Enter"]);
    let code = wait_for("the client to exit", 20, || {
        std::fs::read_to_string(&status).ok()
    });
    assert_eq!(code.trim(), "5");
}

macro_rules! engine_tests {
    ($m:ident, $engine:expr) => {
        mod $m {
            use super::*;
            #[test]
            #[ignore = "run by scripts/test.d/60-interop.sh"]
            fn run_rm() {
                super::run_rm(&$engine)
            }
            #[test]
            #[ignore = "run by scripts/test.d/60-interop.sh"]
            fn detached_exec_logs_top_pause_stop() {
                super::detached_exec_logs_top_pause_stop(&$engine)
            }
            #[test]
            #[ignore = "run by scripts/test.d/60-interop.sh"]
            fn memory_limit_oom_kills() {
                super::memory_limit_oom_kills(&$engine)
            }
            #[test]
            #[ignore = "run by scripts/test.d/60-interop.sh"]
            fn pids_limit_stops_fork() {
                super::pids_limit_stops_fork(&$engine)
            }
            #[test]
            #[ignore = "run by scripts/test.d/60-interop.sh"]
            fn published_port_reaches_httpd() {
                super::published_port_reaches_httpd(&$engine)
            }
            #[test]
            #[ignore = "run by scripts/test.d/60-interop.sh"]
            fn interactive_tty() {
                super::interactive_tty(&$engine)
            }
        }
    };
}

engine_tests!(podman, Engine::podman());
engine_tests!(docker, Engine::docker());
