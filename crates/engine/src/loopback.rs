//! Loopback up in a container's own network namespace, as docker's `none` network has it.

use std::fs::File;
use std::os::fd::AsFd;

/// Sets `lo` up in the network namespace of process `pid`. A thread of its own joins the
/// namespace (it is a per-thread attribute), so the caller's stays as it was.
pub(crate) fn up_in(pid: i32) -> std::io::Result<()> {
    let ns = File::open(format!("/proc/{pid}/ns/net"))?;
    std::thread::scope(|s| {
        s.spawn(|| {
            berth_sys::ns::setns(ns.as_fd(), libc::CLONE_NEWNET)?;
            berth_sys::net::link_up("lo")
        })
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("loopback thread panicked")))
    })
}
