//! The events journal: one JSON line for each thing that happened to a container or an
//! image, in docker's event shape, appended to `ROOT/events.log` by the command that did it
//! (one `write` with `O_APPEND`, so lines of concurrent commands never mix), and read back,
//! filtered and followed by `berth events`. Without a daemon there is no one else to keep it.
//! An event that cannot be written is a warning, never a failed command.

use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Past this size the journal starts afresh, keeping the previous file as `events.log.1`.
const MAX_SIZE: u64 = 4 << 20;

/// What an event is about, and docker's name for it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Attributes")]
    pub attributes: BTreeMap<String, String>,
}

/// One event, as `docker events --format '{{json .}}'` prints it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// `container`, `image`, `volume`, `network`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// `create`, `start`, `die`, `destroy`, `pull`, `tag`, ...
    #[serde(rename = "Action")]
    pub action: String,
    #[serde(rename = "Actor")]
    pub actor: Actor,
    pub scope: String,
    /// Seconds since the epoch.
    pub time: i64,
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
}

impl Event {
    /// Whether it passes filter `key=v` of `events` (type, event, container, image, name,
    /// label).
    pub fn passes(&self, key: &str, v: &str) -> bool {
        let attr = |k: &str| self.actor.attributes.get(k).map(String::as_str);
        match key {
            "type" => self.kind == v,
            "event" => self.action == v,
            "container" => {
                self.kind == "container"
                    && (self.actor.id.starts_with(v) || attr("name") == Some(v))
            }
            "image" => {
                attr("image") == Some(v)
                    || (self.kind == "image" && (self.actor.id == v || attr("name") == Some(v)))
            }
            "name" => attr("name") == Some(v),
            "label" => match v.split_once('=') {
                Some((k, val)) => attr(k) == Some(val),
                None => attr(v).is_some(),
            },
            _ => false,
        }
    }
}

/// `ROOT/events.log`.
#[derive(Clone, Debug)]
pub struct Journal {
    path: PathBuf,
}

impl Journal {
    pub fn new(root: &Path) -> Journal {
        Journal {
            path: root.join("events.log"),
        }
    }

    /// Appends an event: `kind` `action` of `id`, with docker's attributes (`name`, `image`,
    /// `exitCode`, ...).
    pub fn record(&self, kind: &str, action: &str, id: &str, attributes: &[(&str, &str)]) {
        let now = Timestamp::now();
        let nanos = now.unix_nanos();
        let e = Event {
            kind: kind.into(),
            action: action.into(),
            actor: Actor {
                id: id.into(),
                attributes: attributes
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            },
            scope: "local".into(),
            time: nanos.div_euclid(1_000_000_000),
            time_nano: nanos,
        };
        if let Err(err) = self.append(&e) {
            tracing::warn!("events journal {}: {err}", self.path.display());
        }
    }

    fn append(&self, e: &Event) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(e)?;
        line.push(b'\n');
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        f.write_all(&line)?;
        if f.metadata()?.len() > MAX_SIZE {
            let mut old = self.path.as_os_str().to_owned();
            old.push(".1");
            std::fs::rename(&self.path, old)?;
        }
        Ok(())
    }

    /// The events from `since` on (all without it), oldest first, and where the current file
    /// was read up to (for [`Journal::follow`]).
    pub fn read(&self, since: Option<Timestamp>) -> std::io::Result<(Vec<Event>, u64)> {
        let mut out = Vec::new();
        let mut old = self.path.as_os_str().to_owned();
        old.push(".1");
        read_from(Path::new(&old), 0, &mut out)?;
        let end = read_from(&self.path, 0, &mut out)?;
        if let Some(s) = since {
            let from = s.unix_nanos();
            out.retain(|e| e.time_nano >= from);
        }
        Ok((out, end))
    }

    /// Events written after offset `from` of the current file; where it now ends. A journal
    /// started afresh meanwhile is read from its beginning.
    pub fn follow(&self, from: u64) -> std::io::Result<(Vec<Event>, u64)> {
        let mut out = Vec::new();
        let len = std::fs::metadata(&self.path).map_or(0, |m| m.len());
        let from = if len < from { 0 } else { from };
        let end = read_from(&self.path, from, &mut out)?;
        Ok((out, end))
    }
}

/// Reads whole lines of the file at `path` from `offset`; returns the offset after the last
/// whole line (a line being written stays for the next read).
fn read_from(path: &Path, offset: u64, out: &mut Vec<Event>) -> std::io::Result<u64> {
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(offset),
        Err(e) => return Err(e),
    };
    f.seek(SeekFrom::Start(offset))?;
    let mut r = BufReader::new(f);
    let mut pos = offset;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = r.read_until(b'\n', &mut line)?;
        if n == 0 || !line.ends_with(b"\n") {
            return Ok(pos);
        }
        pos += n as u64;
        // A damaged line is skipped: the journal is a record, not a contract.
        if let Ok(e) = serde_json::from_slice(&line) {
            out.push(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_read_back_and_follow() {
        let tmp = tempfile::tempdir().unwrap();
        let j = Journal::new(tmp.path());
        j.record(
            "container",
            "create",
            "abc",
            &[("name", "web"), ("image", "busybox")],
        );
        j.record("container", "start", "abc", &[("name", "web")]);
        let (all, end) = j.read(None).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(
            (
                all[0].action.as_str(),
                all[0].actor.attributes["image"].as_str()
            ),
            ("create", "busybox")
        );
        assert!(all[0].time_nano <= all[1].time_nano);
        let later = Timestamp::parse("2099-01-01T00:00:00Z").unwrap();
        assert!(j.read(Some(later)).unwrap().0.is_empty());
        assert!(j.follow(end).unwrap().0.is_empty());
        j.record("container", "die", "abc", &[("exitCode", "0")]);
        let (more, _) = j.follow(end).unwrap();
        assert_eq!(more[0].action, "die");
        let text = std::fs::read_to_string(tmp.path().join("events.log")).unwrap();
        let v: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(
            (v["Type"].as_str(), v["scope"].as_str()),
            (Some("container"), Some("local"))
        );
        assert_eq!(v["Actor"]["ID"], "abc");
    }
}
