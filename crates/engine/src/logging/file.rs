//! The file drivers: json-file and k8s-file lines appended to `container.log`, rotated to
//! `container.log.1`, `.2`, ... once the file would pass `max-size`.

use super::{Driver, LogConfig};
use crate::time::Timestamp;
use berth_container::run::Stream;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// A container's log file being written.
pub(super) struct LogFile {
    path: PathBuf,
    file: File,
    /// Bytes in the current file.
    size: u64,
    driver: Driver,
    max_size: Option<u64>,
    max_file: u32,
    /// `"attrs":{...}` of every json-file line, when `--log-opt env=` names any.
    attrs: String,
    /// Lines formatted but not yet written: one write per chunk of output.
    pending: Vec<u8>,
}

impl LogFile {
    pub(super) fn open(
        path: &Path,
        c: &LogConfig,
        attrs: Vec<(String, String)>,
    ) -> std::io::Result<LogFile> {
        let file = open_append(path)?;
        let size = file.metadata()?.len();
        let attrs = match attrs.is_empty() {
            true => String::new(),
            false => {
                let map: serde_json::Map<String, serde_json::Value> =
                    attrs.into_iter().map(|(k, v)| (k, v.into())).collect();
                format!(",\"attrs\":{}", serde_json::Value::Object(map))
            }
        };
        Ok(LogFile {
            path: path.to_path_buf(),
            file,
            size,
            driver: c.driver,
            max_size: c.max_size,
            max_file: c.max_file,
            attrs,
            pending: Vec::new(),
        })
    }

    /// Queues one line (or part of a line longer than docker's 16 KiB) of `stream`.
    pub(super) fn line(&mut self, stream: Stream, text: &[u8]) {
        let start = self.pending.len();
        let time = Timestamp::now();
        let name = match stream {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        };
        match self.driver {
            Driver::K8sFile => {
                let (body, full) = match text.strip_suffix(b"\n") {
                    Some(b) => (b, "F"),
                    None => (text, "P"),
                };
                self.pending
                    .extend_from_slice(format!("{time} {name} {full} ").as_bytes());
                self.pending.extend_from_slice(body);
                self.pending.push(b'\n');
            }
            _ => {
                let log = serde_json::Value::String(String::from_utf8_lossy(text).into_owned());
                self.pending.extend_from_slice(
                    format!(
                        "{{\"log\":{log},\"stream\":\"{name}\"{},\"time\":\"{time}\"}}\n",
                        self.attrs
                    )
                    .as_bytes(),
                );
            }
        }
        let len = (self.pending.len() - start) as u64;
        if self.max_size.is_some_and(|max| {
            self.size + (start as u64) + len > max && self.size + start as u64 > 0
        }) {
            // The queue before this line goes into the file that is full; this line starts
            // the next one.
            let line = self.pending.split_off(start);
            self.flush();
            self.rotate();
            self.pending = line;
        }
    }

    /// Writes the queued lines.
    pub(super) fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        // A log that cannot be written loses lines; the container is not stopped for it.
        if self.file.write_all(&self.pending).is_ok() {
            self.size += self.pending.len() as u64;
        }
        self.pending.clear();
    }

    /// `container.log` → `.1` → `.2` ..., the oldest beyond `max-file` gone; a new file.
    fn rotate(&mut self) {
        let numbered = |n: u32| rotated(&self.path, n);
        let _ = std::fs::remove_file(numbered(self.max_file - 1));
        for n in (1..self.max_file.saturating_sub(1)).rev() {
            let _ = std::fs::rename(numbered(n), numbered(n + 1));
        }
        if self.max_file > 1 {
            let _ = std::fs::rename(&self.path, numbered(1));
        } else {
            let _ = std::fs::remove_file(&self.path);
        }
        if let Ok(f) = open_append(&self.path) {
            self.file = f;
            self.size = 0;
        }
    }
}

fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(path)
}

/// The `n`th rotated file of the log at `path` (`n` = 0 is the current one).
pub(super) fn rotated(path: &Path, n: u32) -> PathBuf {
    match n {
        0 => path.to_path_buf(),
        n => {
            let mut p = path.as_os_str().to_owned();
            p.push(format!(".{n}"));
            PathBuf::from(p)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(driver: Driver, max_size: Option<u64>, max_file: u32) -> LogConfig {
        LogConfig {
            driver,
            max_size,
            max_file,
            ..Default::default()
        }
    }

    #[test]
    fn json_lines_with_time_stream_and_attrs() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("container.log");
        let mut f = LogFile::open(
            &p,
            &config(Driver::JsonFile, None, 1),
            vec![("A".into(), "1".into())],
        )
        .unwrap();
        f.line(Stream::Stdout, b"hi \"you\"\n");
        f.line(Stream::Stderr, b"no newline");
        f.flush();
        let text = std::fs::read_to_string(&p).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["log"], "hi \"you\"\n");
        assert_eq!(lines[0]["stream"], "stdout");
        assert_eq!(lines[0]["attrs"]["A"], "1");
        assert!(Timestamp::parse(lines[0]["time"].as_str().unwrap()).is_some());
        assert_eq!(
            (lines[1]["log"].as_str(), lines[1]["stream"].as_str()),
            (Some("no newline"), Some("stderr"))
        );
    }

    #[test]
    fn k8s_lines_mark_partial_ones() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("container.log");
        let mut f = LogFile::open(&p, &config(Driver::K8sFile, None, 1), vec![]).unwrap();
        f.line(Stream::Stdout, b"whole\n");
        f.line(Stream::Stderr, b"part");
        f.flush();
        let text = std::fs::read_to_string(&p).unwrap();
        let l: Vec<&str> = text.lines().collect();
        assert!(l[0].ends_with(" stdout F whole"), "{}", l[0]);
        assert!(l[1].ends_with(" stderr P part"), "{}", l[1]);
    }

    #[test]
    fn rotation_keeps_max_file_files_of_at_most_max_size() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("container.log");
        let mut f = LogFile::open(&p, &config(Driver::JsonFile, Some(4096), 3), vec![]).unwrap();
        for i in 0..1000 {
            f.line(Stream::Stdout, format!("line {i}\n").as_bytes());
            f.flush();
        }
        let mut names: Vec<String> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["container.log", "container.log.1", "container.log.2"]
        );
        for n in &names {
            assert!(
                std::fs::metadata(tmp.path().join(n)).unwrap().len() <= 4096,
                "{n}"
            );
        }
        let last = std::fs::read_to_string(&p).unwrap();
        assert!(last.contains("line 999\\n"), "{last}");
        // One file: rotation starts it afresh.
        let q = tmp.path().join("one.log");
        let mut f = LogFile::open(&q, &config(Driver::JsonFile, Some(4096), 1), vec![]).unwrap();
        for i in 0..1000 {
            f.line(Stream::Stdout, format!("line {i}\n").as_bytes());
            f.flush();
        }
        assert!(std::fs::metadata(&q).unwrap().len() <= 4096);
        assert!(!rotated(&q, 1).exists());
    }
}
