//! What pasta and slirp4netns, the user-mode networks of rootless containers, share: their
//! process is recorded in a pid file next to the container's network record and ended with
//! SIGKILL at teardown; their complaints become one line.

use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long an ended tool may take to exit (and so release its ports).
const EXIT_WAIT: Duration = Duration::from_secs(2);

/// Ends the process recorded in `pid_file` if it is still one of `names` (a recycled pid is
/// left alone), waits until it has exited so that its ports are free, and removes the file;
/// safe to repeat.
pub(crate) fn end(pid_file: &Path, names: &[&str]) -> io::Result<()> {
    let pid = match std::fs::read_to_string(pid_file) {
        Ok(t) => t.trim().parse::<i32>().ok(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if let Some(pid) = pid.filter(|&p| is_running(p, names)) {
        // pasta blocks every other signal; neither holds state worth a clean exit.
        let _ = berth_sys::process::kill(pid, libc::SIGKILL);
        let deadline = Instant::now() + EXIT_WAIT;
        while is_running(pid, names) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    match std::fs::remove_file(pid_file) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Whether `pid` is a live (not zombie) process whose name starts with one of `names`.
pub(crate) fn is_running(pid: i32, names: &[&str]) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // `pid (comm) state ...`; comm may hold spaces and parentheses, so split at the last one.
    let Some((head, tail)) = stat.rsplit_once(") ") else {
        return false;
    };
    let comm = head.split_once(" (").map_or("", |(_, c)| c);
    !tail.starts_with('Z') && names.iter().any(|n| comm.starts_with(n))
}

/// A tool's complaint as one line: its non-empty lines, joined; `fallback` when it said
/// nothing.
pub(crate) fn one_line(text: &str, fallback: impl FnOnce() -> String) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        fallback()
    } else {
        lines.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_live_process_of_the_name_counts() {
        let me = std::process::id() as i32;
        let comm = std::fs::read_to_string("/proc/self/comm").unwrap();
        assert!(is_running(me, &[comm.trim()]));
        assert!(!is_running(me, &["pasta"]));
        assert!(!is_running(i32::MAX, &[comm.trim()]));
    }

    #[test]
    fn complaints_become_one_line() {
        assert_eq!(one_line("  a\n\n b \n", String::new), "a; b");
        assert_eq!(one_line("\n", || "exit status 1".into()), "exit status 1");
    }
}
