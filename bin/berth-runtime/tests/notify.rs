//! sd_notify through the runtime: with `NOTIFY_SOCKET` set, the container gets a socket of
//! the runtime's, and what it sends reaches the caller's socket (systemd's, podman's).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::*;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

/// A static `notify MESSAGE` for the rootfs: one datagram to `$NOTIFY_SOCKET`, as
/// sd_notify(3) sends it (busybox has no systemd-notify), a path too long for a socket address
/// reached through its directory as libsystemd does.
fn install_notify(b: &Bundle) {
    let src = b.path().join("notify.c");
    std::fs::write(
        &src,
        r#"#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
int main(int argc, char **argv) {
  const char *p = getenv("NOTIFY_SOCKET");
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  char dir[4096];
  if (!p || argc < 2 || strlen(p) >= sizeof dir) return 2;
  if (strlen(p) < sizeof a.sun_path) {
    strcpy(a.sun_path, p);
  } else {
    strcpy(dir, p);
    char *slash = strrchr(dir, '/');
    *slash = 0;
    int d = open(dir, O_PATH | O_DIRECTORY);
    if (d < 0) return 3;
    snprintf(a.sun_path, sizeof a.sun_path, "/proc/self/fd/%d/%s", d, slash + 1);
  }
  int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  return sendto(fd, argv[1], strlen(argv[1]), 0, (struct sockaddr *)&a, sizeof a) < 0;
}
"#,
    )
    .unwrap();
    let cc = std::process::Command::new("gcc")
        .args(["-static", "-O1", "-o"])
        .arg(b.rootfs().join("bin/notify"))
        .arg(&src)
        .output()
        .unwrap();
    assert!(cc.status.success(), "gcc: {}", text(&cc.stderr));
}

fn listen(path: &Path) -> UnixDatagram {
    let s = UnixDatagram::bind(path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

fn recv(s: &UnixDatagram) -> String {
    let mut buf = [0u8; 256];
    let n = s.recv(&mut buf).unwrap();
    text(&buf[..n])
}

#[test]
fn a_foreground_run_relays_every_message() {
    let tmp = tempfile::tempdir().unwrap();
    let caller_path = tmp.path().join("caller.sock");
    let caller = listen(&caller_path);
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "echo $NOTIFY_SOCKET; notify STATUS=starting && notify 'STATUS=up\nREADY=1' && echo sent",
    ]);
    install_notify(&b);
    // A non-root container user in a user namespace can reach the socket too.
    b.with_user_namespace(100000);
    b.config["process"]["user"] = serde_json::json!({"uid": 1000, "gid": 1000});
    b.write();
    let id = unique("notify");
    let mut c = b.cmd(&["run", "--bundle", b.path().to_str().unwrap(), &id]);
    c.env("NOTIFY_SOCKET", &caller_path);
    let out = run_with_timeout(c, Duration::from_secs(30));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!("{}/notify\nsent\n", caller_path.display())
    );
    // Relayed as sent, in order, and nothing added.
    assert_eq!(recv(&caller), "STATUS=starting");
    assert_eq!(recv(&caller), "STATUS=up\nREADY=1");
    caller.set_nonblocking(true).unwrap();
    assert!(caller.recv(&mut [0u8; 16]).is_err());
    b.assert_host_clean();
}

#[test]
fn start_returns_once_the_container_is_ready() {
    // A caller path longer than a socket address holds (107 bytes) is relayed to as well.
    let tmp = tempfile::tempdir().unwrap();
    let deep = tmp.path().join("d".repeat(100));
    std::fs::create_dir(&deep).unwrap();
    let caller_path = deep.join("caller.sock");
    let d = std::fs::File::open(&deep).unwrap();
    let caller = listen(&Path::new("/proc/self/fd").join(format!("{}/caller.sock", d.as_raw_fd())));
    let b = Bundle::new(&["sh", "-c", "sleep 0.3; notify READY=1; sleep 60"]);
    install_notify(&b);
    b.write();
    let id = unique("ready");
    let mut c = b.cmd(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
    c.env("NOTIFY_SOCKET", &caller_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let out = run_with_timeout(c, Duration::from_secs(30));
    assert!(out.status.success(), "create: {}", text(&out.stderr));
    let mut c = b.cmd(&["start", &id]);
    c.env("NOTIFY_SOCKET", &caller_path);
    let out = run_with_timeout(c, Duration::from_secs(30));
    assert!(out.status.success(), "start: {}", text(&out.stderr));
    // Already relayed when `start` returned.
    caller.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 64];
    let n = caller
        .recv(&mut buf)
        .expect("start returned before READY=1 was relayed");
    assert_eq!(&buf[..n], b"READY=1");
    assert!(b.rt(&["delete", "--force", &id]).status.success());
    b.assert_host_clean();

    // A container that exits without a word does not keep `run --detach` waiting.
    let b = Bundle::new(&["true"]);
    b.write();
    let id = unique("silent");
    let mut c = b.cmd(&[
        "run",
        "--detach",
        "--bundle",
        b.path().to_str().unwrap(),
        &id,
    ]);
    c.env("NOTIFY_SOCKET", &caller_path).stdin(Stdio::null());
    let out = run_with_timeout(c, Duration::from_secs(30));
    assert!(out.status.success(), "run -d: {}", text(&out.stderr));
    assert!(b.rt(&["delete", "--force", &id]).status.success());
    b.assert_host_clean();
}
