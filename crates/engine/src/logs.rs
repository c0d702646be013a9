//! `logs`: what a detached container wrote (stdout and stderr, interleaved as written, or
//! the pty's output with `-t`), all of it or the last lines; `follow` keeps printing until
//! the container stops.

use crate::record::State;
use crate::{Engine, Error};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::time::Duration;

/// How often `logs -f` looks for more output.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(100);

impl Engine {
    /// Copies container `what`'s log to `out`.
    pub fn logs(
        &self,
        what: &str,
        follow: bool,
        tail: Option<usize>,
        out: &mut dyn Write,
    ) -> Result<(), Error> {
        let r = self.container(what)?;
        let path = self.containers.log_path(&r.id);
        let mut f = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if r.started_at.is_some() {
                    return Err(Error::Failed {
                        name: r.name,
                        reason: "it ran in the foreground: its output went to the terminal \
                                 (run it with -d to keep a log)"
                            .into(),
                    });
                }
                return Ok(());
            }
            Err(e) => return Err(Error::path(&path)(e)),
        };
        if let Some(n) = tail {
            let start = tail_offset(&mut f, n).map_err(Error::path(&path))?;
            f.seek(SeekFrom::Start(start)).map_err(Error::path(&path))?;
        }
        let copy = |f: &mut File, out: &mut dyn Write| {
            std::io::copy(f, out)
                .and_then(|_| out.flush())
                .map_err(Error::io("write the log"))
        };
        copy(&mut f, out)?;
        if !follow {
            return Ok(());
        }
        loop {
            let running = self
                .refresh(&r.id)?
                .is_some_and(|r| r.state == State::Running);
            copy(&mut f, out)?;
            if !running {
                return Ok(());
            }
            std::thread::sleep(FOLLOW_INTERVAL);
        }
    }
}

/// The offset where the last `n` lines of `f` begin (a last line without a newline counts).
fn tail_offset(f: &mut File, n: usize) -> std::io::Result<u64> {
    let len = f.seek(SeekFrom::End(0))?;
    if n == 0 {
        return Ok(len);
    }
    let mut pos = len;
    let mut newlines = 0;
    let mut buf = vec![0u8; 64 * 1024];
    while pos > 0 {
        let chunk = (buf.len() as u64).min(pos);
        pos -= chunk;
        f.seek(SeekFrom::Start(pos))?;
        let part = &mut buf[..chunk as usize];
        f.read_exact(part)?;
        for (i, b) in part.iter().enumerate().rev() {
            let at = pos + i as u64;
            // The newline that ends the file ends the last line; it does not start one.
            if *b == b'\n' && at + 1 != len {
                newlines += 1;
                if newlines == n {
                    return Ok(at + 1);
                }
            }
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tail(text: &str, n: usize) -> String {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("log");
        std::fs::write(&p, text).unwrap();
        let mut f = File::open(&p).unwrap();
        let off = tail_offset(&mut f, n).unwrap() as usize;
        text[off..].to_string()
    }

    #[test]
    fn last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc\n");
        assert_eq!(tail("a\nb\nc", 2), "b\nc");
        assert_eq!(tail("a\nb\n", 5), "a\nb\n");
        assert_eq!(tail("a\nb\n", 0), "");
        assert_eq!(tail("", 3), "");
        let long: String = (0..50_000).map(|i| format!("{i}\n")).collect();
        assert_eq!(tail(&long, 2), "49998\n49999\n");
    }
}
