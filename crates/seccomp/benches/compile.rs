//! Start-path cost of the default profile: compiling with libseccomp vs loading the cached
//! program, and what the filter costs each syscall afterwards.
//! Run: `cargo bench -p berth-seccomp` (as root for the per-syscall part).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use berth_seccomp::{default_profile, Filter};
use std::time::{Duration, Instant};

fn stats(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    println!(
        "{name:<44} n={:<5} min {:>8.1} µs  median {:>8.1} µs  mean {:>8.1} µs  p95 {:>8.1} µs",
        samples.len(),
        us(samples[0]),
        us(samples[samples.len() / 2]),
        us(mean),
        us(samples[samples.len() * 95 / 100]),
    );
}

fn time<T>(n: usize, mut f: impl FnMut() -> T) -> Vec<Duration> {
    (0..n)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed()
        })
        .collect()
}

/// Nanoseconds per syscall `nr(arg0)` in a forked child, with `filter` installed if given.
fn per_syscall_ns(filter: Option<&Filter>, nr: libc::c_long, arg0: libc::c_long) -> Option<f64> {
    const N: u64 = 2_000_000;
    let mut pipe = [0; 2];
    // SAFETY: pipe fills two fds.
    assert_eq!(unsafe { libc::pipe(pipe.as_mut_ptr()) }, 0);
    // SAFETY: the child makes raw syscalls, writes 8 bytes and _exits.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: prctl, syscall loop, write and _exit in the child.
        unsafe {
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
            if let Some(f) = filter {
                if f.install().is_err() {
                    libc::_exit(1);
                }
            }
            let t = Instant::now();
            for _ in 0..N {
                libc::syscall(nr, arg0);
            }
            let ns = (t.elapsed().as_nanos() as u64 * 1000 / N).to_ne_bytes();
            libc::write(pipe[1], ns.as_ptr().cast(), 8);
            libc::_exit(0);
        }
    }
    let mut buf = [0u8; 8];
    // SAFETY: reading 8 bytes from our pipe, then reaping the child.
    let n = unsafe {
        libc::close(pipe[1]);
        let n = libc::read(pipe[0], buf.as_mut_ptr().cast(), 8);
        libc::close(pipe[0]);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
        n
    };
    (n == 8).then(|| u64::from_ne_bytes(buf) as f64 / 1000.0)
}

fn main() {
    let profile = default_profile().unwrap();
    let filter = Filter::compile(&profile).unwrap();
    let rules = profile.syscalls().as_ref().map_or(0, |s| s.len());
    println!(
        "default profile: {rules} rules, {} BPF instructions ({} bytes), {} names skipped",
        filter.len(),
        filter.program_bytes().len(),
        filter.skipped_syscalls().len()
    );

    stats(
        "default_profile() (template -> LinuxSeccomp)",
        time(200, || default_profile().unwrap()),
    );
    stats(
        "Filter::compile (libseccomp + export)",
        time(200, || Filter::compile(&profile).unwrap()),
    );
    let mut native_only = profile.clone();
    native_only.set_architectures(None);
    stats(
        "Filter::compile, native architecture only",
        time(100, || Filter::compile(&native_only).unwrap()),
    );
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("seccomp");
    Filter::compile_cached(&profile, &cache).unwrap();
    stats(
        "Filter::compile_cached, hit",
        time(2000, || Filter::compile_cached(&profile, &cache).unwrap()),
    );
    let json = serde_json::to_vec(&filter).unwrap();
    stats(
        "serde_json::from_slice::<Filter> only",
        time(2000, || serde_json::from_slice::<Filter>(&json).unwrap()),
    );

    // Best of 5 runs each: the machine is shared, the minimum is the least disturbed.
    let best = |f: Option<&Filter>, nr, arg0| {
        (0..5)
            .filter_map(|_| per_syscall_ns(f, nr, arg0))
            .min_by(f64::total_cmp)
    };
    let probes = [
        ("getppid", libc::SYS_getppid, 0),
        ("close(-1)", libc::SYS_close, -1),
        ("epoll_pwait2(-1)", libc::SYS_epoll_pwait2, -1),
    ];
    for (name, nr, arg0) in probes {
        match (best(None, nr, arg0), best(Some(&filter), nr, arg0)) {
            (Some(bare), Some(filtered)) => println!(
                "{name:<18} {bare:>6.1} ns unfiltered, {filtered:>6.1} ns under the default profile (+{:.1} ns)",
                filtered - bare
            ),
            _ => println!("{name}: child failed (not root?)"),
        }
    }
}
