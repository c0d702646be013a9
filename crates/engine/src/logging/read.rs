//! Reading a file log back: the rotated files oldest first, then the current one, line by
//! line; and following the current one across rotations.

use super::file::rotated;
use super::Driver;
use crate::time::Timestamp;
use berth_container::run::Stream;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// One line of a container's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// When it was written (`None` for a line of an older berth's raw log).
    pub time: Option<Timestamp>,
    pub stream: Stream,
    /// The text, with its newline when it had one.
    pub text: Vec<u8>,
    /// `--log-opt env=` values (json-file).
    pub attrs: Vec<(String, String)>,
}

#[derive(serde::Deserialize)]
struct JsonLine {
    log: String,
    stream: String,
    time: String,
    #[serde(default)]
    attrs: std::collections::BTreeMap<String, String>,
}

fn stream(name: &str) -> Stream {
    match name {
        "stderr" => Stream::Stderr,
        _ => Stream::Stdout,
    }
}

/// One stored line as an entry; a line in neither format (a raw log) is stdout text.
fn parse(driver: Driver, line: &[u8]) -> Entry {
    let raw = || Entry {
        time: None,
        stream: Stream::Stdout,
        text: line.to_vec(),
        attrs: Vec::new(),
    };
    let body = line.strip_suffix(b"\n").unwrap_or(line);
    match driver {
        Driver::K8sFile => {
            let mut parts = body.splitn(4, |b| *b == b' ');
            let (Some(t), Some(s), Some(tag), text) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return raw();
            };
            let Some(time) = std::str::from_utf8(t).ok().and_then(Timestamp::parse) else {
                return raw();
            };
            let mut text = text.unwrap_or_default().to_vec();
            if tag == b"F" {
                text.push(b'\n');
            }
            Entry {
                time: Some(time),
                stream: stream(&String::from_utf8_lossy(s)),
                text,
                attrs: Vec::new(),
            }
        }
        _ => match serde_json::from_slice::<JsonLine>(body) {
            Ok(j) => Entry {
                time: Timestamp::parse(&j.time),
                stream: stream(&j.stream),
                text: j.log.into_bytes(),
                attrs: j.attrs.into_iter().collect(),
            },
            Err(_) => raw(),
        },
    }
}

/// A container's log as written by a file driver.
pub struct LogReader {
    path: PathBuf,
    driver: Driver,
    /// The current file while following, and how far it was read.
    following: Option<(BufReader<File>, u64)>,
}

impl LogReader {
    pub fn new(path: &Path, driver: Driver) -> LogReader {
        LogReader {
            path: path.to_path_buf(),
            driver,
            following: None,
        }
    }

    /// Every entry there is now, oldest first; only the last `tail` ones when given.
    /// Afterwards [`LogReader::more`] gives what is written later.
    pub fn entries(&mut self, tail: Option<usize>) -> std::io::Result<Vec<Entry>> {
        let mut kept = VecDeque::new();
        let mut files: Vec<PathBuf> = (1..)
            .map(|n| rotated(&self.path, n))
            .take_while(|p| p.exists())
            .collect();
        files.reverse();
        let mut keep = |e: Entry| {
            kept.push_back(e);
            if tail.is_some_and(|n| kept.len() > n) {
                kept.pop_front();
            }
        };
        for p in files {
            // A file rotated away meanwhile is simply not there any more.
            if let Ok(f) = File::open(&p) {
                read_lines(&mut BufReader::new(f), self.driver, &mut keep)?;
            }
        }
        match File::open(&self.path) {
            Ok(f) => {
                let ino = f.metadata()?.ino();
                let mut r = BufReader::new(f);
                read_lines(&mut r, self.driver, &mut keep)?;
                self.following = Some((r, ino));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Ok(kept.into())
    }

    /// What was written since the last call: the rest of the file being read, then the
    /// files it was rotated past meanwhile, then the current one.
    pub fn more(&mut self) -> std::io::Result<Vec<Entry>> {
        let mut out = Vec::new();
        let mut emit = |e| out.push(e);
        let old = match &mut self.following {
            Some((r, ino)) => {
                read_lines(r, self.driver, &mut emit)?;
                Some(*ino)
            }
            None => None,
        };
        let ino_of = |p: &Path| std::fs::metadata(p).ok().map(|m| m.ino());
        if old.is_some() && ino_of(&self.path) == old {
            return Ok(out);
        }
        // Rotated: the file we read is now `.k`; `.k-1` ... `.1` came after it.
        let after: Vec<PathBuf> = (1..)
            .map(|n| rotated(&self.path, n))
            .take_while(|p| p.exists())
            .take_while(|p| old.is_some() && ino_of(p) != old)
            .collect();
        for p in after.iter().rev() {
            if let Ok(f) = File::open(p) {
                read_lines(&mut BufReader::new(f), self.driver, &mut emit)?;
            }
        }
        match File::open(&self.path) {
            Ok(f) => {
                let ino = f.metadata()?.ino();
                let mut r = BufReader::new(f);
                read_lines(&mut r, self.driver, &mut emit)?;
                self.following = Some((r, ino));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => self.following = None,
            Err(e) => return Err(e),
        }
        Ok(out)
    }
}

/// Reads the complete lines `r` has; a last line without its newline is left for later
/// (it is being written), unless it is a raw log's.
fn read_lines(
    r: &mut BufReader<File>,
    driver: Driver,
    emit: &mut dyn FnMut(Entry),
) -> std::io::Result<()> {
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = r.read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(());
        }
        if !line.ends_with(b"\n") {
            // Put the unfinished line back for the next read.
            let back = -(line.len() as i64);
            std::io::Seek::seek_relative(r, back)?;
            return Ok(());
        }
        emit(parse(driver, &line));
    }
}

/// The rest of a reader, for tests.
#[cfg(test)]
fn rest(mut r: BufReader<File>) -> Vec<u8> {
    let mut v = Vec::new();
    std::io::Read::read_to_end(&mut r, &mut v).unwrap();
    v
}

#[cfg(test)]
mod tests {
    use super::super::file::LogFile;
    use super::super::LogConfig;
    use super::*;

    #[test]
    fn reads_back_what_was_written_across_rotations() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("container.log");
        let c = LogConfig {
            driver: Driver::JsonFile,
            max_size: Some(4096),
            max_file: 4,
            ..Default::default()
        };
        let mut f = LogFile::open(&p, &c, vec![]).unwrap();
        for i in 0..60 {
            f.line(Stream::Stdout, format!("out {i}\n").as_bytes());
            f.line(Stream::Stderr, format!("err {i}\n").as_bytes());
            f.flush();
        }
        let mut r = LogReader::new(&p, Driver::JsonFile);
        let all = r.entries(None).unwrap();
        assert_eq!(all.len(), 120);
        assert_eq!(all[0].text, b"out 0\n");
        assert_eq!(all[1].stream, Stream::Stderr);
        assert!(all.windows(2).all(|w| w[0].time <= w[1].time));
        let last = LogReader::new(&p, Driver::JsonFile)
            .entries(Some(3))
            .unwrap();
        assert_eq!(last[2].text, b"err 59\n");
        // Following: new lines, across a rotation.
        assert!(r.more().unwrap().is_empty());
        for i in 60..200 {
            f.line(Stream::Stdout, format!("out {i}\n").as_bytes());
            f.flush();
        }
        let more = r.more().unwrap();
        assert_eq!(more.len(), 140);
        assert_eq!(more[139].text, b"out 199\n");
    }

    #[test]
    fn an_unfinished_line_waits_and_raw_lines_pass() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("log");
        std::fs::write(&p, b"plain text\n{\"log\":\"x\\n\",\"stream\":\"stdout\",\"time\":\"2026-01-01T00:00:00Z\"}\n{\"log\"").unwrap();
        let mut r = LogReader::new(&p, Driver::JsonFile);
        let e = r.entries(None).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(
            (e[0].time, e[0].text.as_slice()),
            (None, &b"plain text\n"[..])
        );
        assert_eq!(e[1].text, b"x\n");
        let (reader, _) = r.following.take().unwrap();
        assert_eq!(rest(reader), b"{\"log\"");
    }

    #[test]
    fn k8s_lines_parse() {
        let e = parse(Driver::K8sFile, b"2026-01-01T00:00:00.5Z stderr P no end\n");
        assert_eq!(
            (e.stream, e.text.as_slice()),
            (Stream::Stderr, &b"no end"[..])
        );
        let e = parse(Driver::K8sFile, b"2026-01-01T00:00:00Z stdout F a b\n");
        assert_eq!(e.text, b"a b\n");
    }
}
