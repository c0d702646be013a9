//! Seccomp in the container: the default profile, errno and kill actions, and a NOTIFY agent
//! that receives the listener with the container's state and answers a syscall.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::*;
use serde_json::json;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

#[test]
fn the_default_profile_blocks_what_it_should_and_busybox_runs() {
    // With CAP_SYS_ADMIN granted, only the filter stands between the container and mount.
    let mut b = Bundle::new(&["sh", "-c", "grep -E '^Seccomp:' /proc/self/status; unshare -U true 2>&1 || echo unshare-denied; mount -t tmpfs none /tmp 2>&1 || echo mount-denied; ls / >/dev/null && echo ls-ok"]);
    for set in ["bounding", "effective", "permitted"] {
        b.config["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push(json!("CAP_SYS_ADMIN"));
    }
    let out = b.run_ok();
    assert!(out.contains("Seccomp:\t2"), "{out}");
    assert!(
        out.contains("unshare-denied") && out.contains("mount-denied") && out.contains("ls-ok"),
        "{out}"
    );
    // Without the filter the same container may mount: the denial above was seccomp's.
    b.config["linux"].as_object_mut().unwrap().remove("seccomp");
    let out = b.run_ok();
    assert!(!out.contains("mount-denied"), "{out}");
    b.assert_host_clean();
}

#[test]
fn errno_and_kill_actions_apply_in_the_container_and_to_exec() {
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "mkdir /dev/shm/x 2>&1; (hostname x); echo after",
    ]);
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 28},
            {"names": ["sethostname"], "action": "SCMP_ACT_KILL_PROCESS"}
        ]
    });
    let out = b.run_ok();
    assert!(out.contains("No space left on device"), "{out}");
    assert!(out.contains("after"), "only the subshell was killed: {out}");
    // A process started with exec gets the same filter.
    b.config["process"]["args"] = json!(["sleep", "60"]);
    let id = unique("secexec");
    assert!(b.create(&id, &[]).status.success());
    assert!(b.rt(&["start", &id]).status.success());
    let out = b.rt(&["exec", &id, "mkdir", "/dev/shm/y"]);
    assert!(
        text(&out.stderr).contains("No space left on device"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        b.rt(&["exec", &id, "hostname", "y"]).status.code(),
        Some(128 + libc::SIGSYS)
    );
    assert!(b.rt(&["delete", "-f", &id]).status.success());
    b.assert_host_clean();
}

/// A NOTIFY agent listening at `sock`: it passes on the container process state it gets,
/// then answers every notified syscall with EROFS until the filter's last user is gone, and
/// returns how many it answered.
fn spawn_agent(
    sock: &std::path::Path,
) -> (
    std::sync::mpsc::Receiver<serde_json::Value>,
    std::thread::JoinHandle<usize>,
) {
    let listener = std::os::unix::net::UnixListener::bind(sock).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let agent = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let mut json = Vec::new();
        let mut fds: Vec<OwnedFd> = Vec::new();
        loop {
            let mut buf = [0u8; 4096];
            let (n, got) = berth_sys::socket::recv(conn.as_fd(), &mut buf).unwrap();
            fds.extend(got);
            if n == 0 {
                break;
            }
            json.extend_from_slice(&buf[..n]);
        }
        tx.send(serde_json::from_slice(&json).unwrap()).unwrap();
        let fd = fds.pop().unwrap();
        let mut answered = 0;
        loop {
            // SAFETY: seccomp_notif is plain data the kernel wants zeroed; NOTIF_RECV fills it.
            let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
            // SAFETY: as above.
            if unsafe { libc::ioctl(fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_RECV, &mut req) } != 0
            {
                break;
            }
            let resp = libc::seccomp_notif_resp {
                id: req.id,
                val: 0,
                error: -libc::EROFS,
                flags: 0,
            };
            // SAFETY: NOTIF_SEND reads `resp`.
            unsafe { libc::ioctl(fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_SEND, &resp) };
            answered += 1;
        }
        answered
    });
    (rx, agent)
}

#[test]
fn a_notify_agent_gets_the_listener_and_answers() {
    let mut b = Bundle::new(&["sh", "-c", "mkdir /dev/shm/z 2>&1; echo done"]);
    let sock = b.path().join("agent.sock");
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": sock,
        "listenerMetadata": "hello-agent",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
    });
    let (states, agent) = spawn_agent(&sock);
    let id = unique("notify");
    let out = b.run(&id);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("Read-only file system"),
        "the agent's answer: {}",
        text(&out.stdout)
    );
    assert!(agent.join().unwrap() >= 1);
    let state = states.recv().unwrap();
    assert_eq!(state["fds"], json!(["seccompFd"]));
    assert_eq!(state["metadata"], "hello-agent");
    assert_eq!(state["state"]["id"], id.as_str());
    assert_eq!(state["state"]["status"], "creating");
    assert!(state["pid"].as_i64().unwrap() > 1, "the host pid: {state}");
    b.assert_host_clean();

    // The agent holds the listener once `create` returns, before any `start`, even with
    // noNewPrivileges (whose filter otherwise goes on last, after the start signal).
    b.config["process"]["noNewPrivileges"] = json!(true);
    std::fs::remove_file(&sock).unwrap();
    let (states, agent) = spawn_agent(&sock);
    let id = unique("notify-created");
    assert!(b.create(&id, &[]).status.success());
    let state = states
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("no listener before start");
    assert_eq!(state["state"]["status"], "creating");
    assert!(b.rt(&["delete", "--force", &id]).status.success());
    agent.join().unwrap();
    b.assert_host_clean();
}

#[test]
fn a_bad_filter_is_a_clear_error() {
    let mut b = Bundle::new(&["true"]);
    b.config["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]});
    let out = b.run(&unique("nolistener"));
    assert_fails_with(&out, "listenerPath");
    let mut b = Bundle::new(&["true"]);
    b.config["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_BOGUS"});
    assert_fails_with(&b.run(&unique("badaction")), "linux.seccomp.defaultAction");
    b.assert_host_clean();
}

/// A profile that allows only what busybox needs to start, print and sleep (and `extra`),
/// and refuses everything else: the runtime's own calls after the filter must be none but
/// the exec.
fn only_the_programs_syscalls(extra: &[&str]) -> serde_json::Value {
    let mut names = vec![
        "execve",
        "execveat",
        "arch_prctl",
        "set_tid_address",
        "set_robust_list",
        "rseq",
        "brk",
        "mprotect",
        "prlimit64",
        "getrandom",
        "readlink",
        "getuid",
        "prctl",
        "write",
        "clock_nanosleep",
        "exit_group",
    ];
    names.extend_from_slice(extra);
    json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}]
    })
}

/// `run`, `create`/`start` and `exec` under such a profile.
fn starts_run_create_start_and_exec(b: &mut Bundle) {
    b.config["process"]["args"] = json!(["echo", "ran"]);
    assert_eq!(b.run_ok(), "ran\n");
    b.config["process"]["args"] = json!(["sleep", "60"]);
    let id = unique("onlyprog");
    let out = b.create(&id, &[]);
    assert!(out.status.success(), "create: {}", text(&out.stderr));
    let out = b.rt(&["start", &id]);
    assert!(out.status.success(), "start: {}", text(&out.stderr));
    let out = b.rt(&["exec", &id, "echo", "exec ran"]);
    assert!(out.status.success(), "exec: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "exec ran\n");
    assert!(b.rt(&["delete", "--force", &id]).status.success());
}

#[test]
fn a_profile_with_only_the_programs_syscalls_starts_run_create_start_and_exec() {
    let mut b = Bundle::new(&["true"]);
    b.config["linux"]["seccomp"] = only_the_programs_syscalls(&[]);
    starts_run_create_start_and_exec(&mut b);
    // Refused execveat: the trampoline runs through its /proc link, as fexecve would.
    b.config["linux"]["seccomp"]["syscalls"][0]["names"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n != "execveat");
    starts_run_create_start_and_exec(&mut b);
    b.assert_host_clean();
}

/// An agent that takes `n` listeners and keeps them until it has all.
fn spawn_collector(sock: &std::path::Path, n: usize) -> std::thread::JoinHandle<usize> {
    let listener = std::os::unix::net::UnixListener::bind(sock).unwrap();
    std::thread::spawn(move || {
        let mut held: Vec<OwnedFd> = Vec::new();
        for _ in 0..n {
            let (conn, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4096];
            loop {
                let (k, got) = berth_sys::socket::recv(conn.as_fd(), &mut buf).unwrap();
                held.extend(got);
                if k == 0 {
                    break;
                }
            }
        }
        held.len()
    })
}

#[test]
fn with_a_notify_listener_such_a_profile_needs_only_the_hand_off() {
    let mut b = Bundle::new(&["true"]);
    let sock = b.path().join("agent.sock");
    // The agent gets the listener before `create` returns, so the filter goes on before the
    // init reports ready: the hand-off and the wait for `start` follow it.
    let mut profile = only_the_programs_syscalls(&["sendmsg", "recvmsg", "openat"]);
    profile["listenerPath"] = json!(sock);
    profile["syscalls"]
        .as_array_mut()
        .unwrap()
        .push(json!({"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}));
    b.config["linux"]["seccomp"] = profile;
    // run, create, exec: three listeners.
    let agent = spawn_collector(&sock, 3);
    starts_run_create_start_and_exec(&mut b);
    assert_eq!(agent.join().unwrap(), 3);
    b.assert_host_clean();
}

/// Creates an AF_VSOCK socket three ways and prints 0 or the negated errno of each: the
/// native call, x86's direct `socket` and x86's `socketcall` multiplexer (both through
/// `int 0x80`, which a 64-bit process may use and the filter sees as x86).
const VSOCK_PROBE: &str = r#"
import ctypes, socket
def native():
    try:
        socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM).close()
        return 0
    except OSError as e:
        return -e.errno
libc = ctypes.CDLL(None)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
page = libc.mmap(None, 4096, 7, 0x22 | 0x40, -1, 0)
args = page + 2048
(ctypes.c_uint32 * 3).from_address(args)[:] = [40, 1, 0]
def int80(nr, a, b, c):
    le = lambda v: list(v.to_bytes(4, "little"))
    code = bytes([0x53, 0xb8] + le(nr) + [0xbb] + le(a) + [0xb9] + le(b) + [0xba] + le(c) + [0xcd, 0x80, 0x5b, 0xc3])
    ctypes.memmove(page, code, len(code))
    r = ctypes.CFUNCTYPE(ctypes.c_int)(page)()
    return 0 if r >= 0 else r
print(native(), int80(359, 40, 1, 0), int80(102, 1, args, 0))
"#;

/// vsock is not network-namespaced: a container could reach the hypervisor's and other
/// guests' services. The default profile refuses the family (EPERM), and x86's `socketcall`,
/// whose arguments a filter cannot read, with ENOSYS, as Docker's does.
#[test]
#[cfg(target_arch = "x86_64")]
fn the_default_profile_refuses_vsock_sockets() {
    let mut b = Bundle::new(&["/usr/bin/python3", "-c", VSOCK_PROBE]);
    // python3 and its libraries from the host, read-only.
    b.config["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/usr", "type": "bind", "source": "/usr", "options": ["rbind", "ro"]}),
    );
    for lib in ["lib", "lib64"] {
        std::os::unix::fs::symlink(format!("usr/{lib}"), b.rootfs().join(lib)).unwrap();
    }
    let refused = format!("-{0} -{0} -{1}", libc::EPERM, libc::ENOSYS);
    assert_eq!(b.run_ok().trim(), refused);
    // Without the filter this kernel allows all three: the refusals were the profile's.
    b.config["linux"].as_object_mut().unwrap().remove("seccomp");
    assert_eq!(b.run_ok().trim(), "0 0 0");
    b.assert_host_clean();
}
