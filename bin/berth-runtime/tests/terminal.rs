//! Terminals: the pty master through `--console-socket`, and a foreground `run` relaying the
//! caller's terminal.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::*;
use serde_json::json;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener;

fn read_until(f: &mut std::fs::File, needle: &str) -> String {
    let mut got = String::new();
    let mut buf = [0u8; 4096];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !got.contains(needle) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let mut p = libc::pollfd {
            fd: std::os::fd::AsRawFd::as_raw_fd(f),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd. A read that would block forever is never started.
        let ready = unsafe { libc::poll(&mut p, 1, left.as_millis() as i32) };
        assert!(ready > 0, "no {needle:?} in {got:?}");
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.push_str(&String::from_utf8_lossy(&buf[..n])),
            Err(e) if e.raw_os_error() == Some(libc::EIO) => break,
            Err(e) => panic!("{e}"),
        }
    }
    got
}

#[test]
fn console_socket_receives_the_pty_master() {
    let mut b = Bundle::new(&["sh", "-c", "tty; readlink /proc/self/fd/0; [ -t 1 ] && echo is-a-tty; stty size; read line; echo got:$line"]);
    b.config["process"]["terminal"] = json!(true);
    b.config["process"]["consoleSize"] = json!({"height": 40, "width": 120});
    let sock_path = b.path().join("console.sock");
    let listener = UnixListener::bind(&sock_path).unwrap();
    let id = unique("console");
    let receiver = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 64];
        let (n, mut fds) = berth_sys::socket::recv(conn.as_fd(), &mut buf).unwrap();
        assert_eq!(&buf[..n], b"/dev/ptmx");
        fds.pop().unwrap()
    });
    let out = b.create(&id, &["--console-socket", sock_path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let master: OwnedFd = receiver.join().unwrap();
    assert!(b.rt(&["start", &id]).status.success());
    let mut f = std::fs::File::from(master);
    let got = read_until(&mut f, "40 120");
    assert!(got.contains("/dev/pts/0"), "{got}");
    assert!(got.contains("is-a-tty"), "{got}");
    f.write_all(b"hello\n").unwrap();
    let got = read_until(&mut f, "got:hello");
    assert!(got.contains("got:hello"), "{got}");
    eventually("exit", || b.state(&id)["status"] == "stopped");
    assert!(b.rt(&["delete", &id]).status.success());
    b.assert_host_clean();
}

#[test]
fn terminal_needs_a_console_socket_when_detached() {
    let mut b = Bundle::new(&["true"]);
    b.config["process"]["terminal"] = json!(true);
    assert_fails_with(&b.create(&unique("noconsole"), &[]), "--console-socket");
    let b2 = Bundle::new(&["true"]);
    let out = b2.create(
        &unique("nottyconsole"),
        &["--console-socket", "/nonexistent.sock"],
    );
    assert_fails_with(&out, "process.terminal is false");
    b.assert_host_clean();
    b2.assert_host_clean();
}

#[test]
fn foreground_run_relays_the_callers_terminal() {
    let mut b = Bundle::new(&["sh", "-c", "stty size; read x; echo echoed:$x; exit 5"]);
    b.config["process"]["terminal"] = json!(true);
    b.write();
    // Our side of a pty pair is the "user's terminal" that berth-runtime runs in.
    let master = berth_sys::pty::open_master(std::path::Path::new("/dev/ptmx")).unwrap();
    let slave = berth_sys::pty::open_peer(master.as_fd()).unwrap();
    berth_sys::pty::set_window_size(master.as_fd(), 33, 77).unwrap();
    let id = unique("fgtty");
    let mut c = b.cmd(&["run", "--bundle", b.path().to_str().unwrap(), &id]);
    let s = slave.as_raw_fd();
    // SAFETY: only dup2 and setsid/ioctl, which are async-signal-safe, run in the child.
    unsafe {
        use std::os::unix::process::CommandExt;
        c.pre_exec(move || {
            libc::setsid();
            libc::ioctl(s, libc::TIOCSCTTY, 0);
            for fd in 0..3 {
                libc::dup2(s, fd);
            }
            Ok(())
        });
    }
    let mut child = c.spawn().unwrap();
    drop(slave);
    let mut f = std::fs::File::from(master);
    let got = read_until(&mut f, "33 77");
    assert!(got.contains("33 77"), "{got}");
    f.write_all(b"abc\r").unwrap();
    let got = read_until(&mut f, "echoed:abc");
    assert!(got.contains("echoed:abc"), "{got}");
    assert_eq!(child.wait().unwrap().code(), Some(5));
    b.assert_host_clean();
}
