//! What the runtime reads of other processes in `/proc`.

use std::io;

/// The fields of `/proc/PID/stat` the runtime needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    /// `R`, `S`, `D`, `Z`, `T`, ...
    pub state: char,
    /// Start time in clock ticks since boot: with the pid, it names one process for good.
    pub start_time: u64,
}

impl Stat {
    /// Whether the process has exited (a zombie nobody has reaped yet counts as exited).
    pub fn exited(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// Parses the contents of `/proc/PID/stat`. The command name may hold spaces and parentheses,
/// so fields are counted from the last `)`.
pub fn parse_stat(s: &str) -> Option<Stat> {
    let rest = &s[s.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?.chars().next()?;
    // After the state (field 3) come fields 4..; starttime is field 22.
    let start_time = fields.nth(18)?.parse().ok()?;
    Some(Stat { state, start_time })
}

/// `/proc/PID/stat` of a live (or zombie) process; `Ok(None)` when there is no such process.
pub fn stat(pid: i32) -> io::Result<Option<Stat>> {
    // A few hundred bytes: one read into a buffer that holds them, without the stat and the
    // growing small reads of `fs::read_to_string` on a file that reports no size (`ps` of
    // many containers reads one per container and monitor).
    let mut text = String::with_capacity(1024);
    let read = std::fs::File::open(format!("/proc/{pid}/stat"))
        .and_then(|f| io::Read::read_to_string(&mut io::Read::take(f, u64::MAX), &mut text));
    match read {
        Ok(_) => parse_stat(&text).map(Some).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("/proc/{pid}/stat: unexpected format"),
            )
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ESRCH) => {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Whether `pid` still is the process that started at `start_time` and has not exited.
pub fn is_alive(pid: i32, start_time: u64) -> io::Result<bool> {
    Ok(stat(pid)?.is_some_and(|s| s.start_time == start_time && !s.exited()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_command_names() {
        let s =
            "4242 (a) b) (c) S 1 4242 4242 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 1000 10";
        assert_eq!(
            parse_stat(s),
            Some(Stat {
                state: 'S',
                start_time: 987654
            })
        );
        assert!(parse_stat("garbage").is_none());
    }

    #[test]
    fn own_process_is_alive() {
        let me = std::process::id() as i32;
        let st = stat(me).unwrap().unwrap();
        assert!(is_alive(me, st.start_time).unwrap());
        assert!(!is_alive(me, st.start_time + 1).unwrap());
    }
}
