//! `ps`: the processes of a container. As runc: the pids in its cgroup, and for the table
//! format the host's `ps` (options passed through, `-ef` by default) with only the header and
//! the rows of those pids kept.

use crate::cgroup::load;
use crate::kill::members;
use crate::state::Status;
use crate::{procfs, Error, Runtime};
use std::process::Command;

/// Pids of container `id`'s processes, in the runtime's pid namespace: those in its cgroup,
/// or for a container without one, those in its init's pid namespace.
pub fn pids(rt: &Runtime, id: &str) -> Result<Vec<i32>, Error> {
    let all = [
        Status::Created,
        Status::Running,
        Status::Paused,
        Status::Stopped,
    ];
    let (_dir, saved) = load(rt, id, &all, "list its processes")?;
    match &saved.cgroup {
        Some(cg) if cg.exists() => cg.pids().map_err(Error::from),
        Some(_) => Ok(Vec::new()),
        None if procfs::is_alive(saved.pid, saved.start_time)
            .map_err(Error::io("read /proc"))? =>
        {
            members(&saved)
        }
        None => Ok(Vec::new()),
    }
}

/// Runs `ps` with `args` (`-ef` when empty) and keeps the header and the rows of `pids`.
pub fn table(pids: &[i32], args: &[String]) -> Result<String, Error> {
    let default = ["-ef".to_string()];
    let args = if args.is_empty() { &default[..] } else { args };
    let out = Command::new("ps")
        .args(args)
        .output()
        .map_err(Error::io("run ps"))?;
    if !out.status.success() {
        return Err(Error::Usage(format!(
            "ps {}: {}: {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    filter_rows(&String::from_utf8_lossy(&out.stdout), pids)
}

/// The header of `ps` output and the rows whose PID column is in `pids`.
fn filter_rows(output: &str, pids: &[i32]) -> Result<String, Error> {
    let mut lines = output.lines();
    let header = lines.next().unwrap_or_default();
    let col = header
        .split_whitespace()
        .position(|f| f == "PID")
        .ok_or_else(|| Error::Usage(format!("ps output has no PID column: {header:?}")))?;
    let mut table = format!("{header}\n");
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let pid: i32 = line
            .split_whitespace()
            .nth(col)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| Error::Usage(format!("ps: no pid in row {line:?}")))?;
        if pids.contains(&pid) {
            table.push_str(line);
            table.push('\n');
        }
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_filtered_by_the_pid_column() {
        let ps = "UID   PID  PPID  C STIME TTY  TIME CMD\n\
                  root    1     0  0 10:00 ?    00:00:01 init\n\
                  root   42     1  0 10:00 ?    00:00:00 sleep 60\n\
                  root  420    42  0 10:00 ?    00:00:00 sh -c 42\n";
        let t = filter_rows(ps, &[42]).unwrap();
        assert_eq!(
            t,
            "UID   PID  PPID  C STIME TTY  TIME CMD\n\
             root   42     1  0 10:00 ?    00:00:00 sleep 60\n"
        );
        // busybox's ps puts PID first.
        let t = filter_rows("PID USER TIME COMMAND\n 7 root 0:00 sh\n", &[7]).unwrap();
        assert_eq!(t.lines().count(), 2);
    }

    #[test]
    fn output_without_pids_is_an_error() {
        assert!(filter_rows("USER COMMAND\nroot sh\n", &[1]).is_err());
        assert!(filter_rows("PID CMD\nx sh\n", &[1]).is_err());
    }
}
