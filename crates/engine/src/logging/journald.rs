//! The journald driver: each line a journal entry sent over the journal's native protocol
//! (one datagram of `KEY=VALUE` fields), with docker's field names, so that
//! `journalctl CONTAINER_NAME=web` finds it.

use berth_container::run::Stream;
use std::os::unix::net::UnixDatagram;
use std::path::Path;

pub(super) struct Journal {
    socket: UnixDatagram,
    /// The fields every entry of this container carries, already encoded.
    common: Vec<u8>,
}

impl Journal {
    pub(super) fn connect(
        path: &Path,
        id: &str,
        name: &str,
        tag: Option<String>,
        attrs: Vec<(String, String)>,
    ) -> std::io::Result<Journal> {
        let socket = UnixDatagram::unbound()?;
        socket.connect(path)?;
        let short = id.get(..12).unwrap_or(id);
        let tag = tag.unwrap_or_else(|| short.to_string());
        let mut common = Vec::new();
        for (k, v) in [
            ("CONTAINER_ID", short),
            ("CONTAINER_ID_FULL", id),
            ("CONTAINER_NAME", name),
            ("CONTAINER_TAG", &tag),
            ("SYSLOG_IDENTIFIER", &tag),
        ] {
            field(&mut common, k, v.as_bytes());
        }
        for (k, v) in &attrs {
            let key: String = k
                .chars()
                .map(|c| match c.is_ascii_alphanumeric() {
                    true => c.to_ascii_uppercase(),
                    false => '_',
                })
                .collect();
            field(&mut common, key.trim_start_matches('_'), v.as_bytes());
        }
        Ok(Journal { socket, common })
    }

    /// Sends one line; stderr is logged at priority 3 (error), stdout at 6 (info).
    pub(super) fn line(&self, stream: Stream, text: &[u8]) {
        let mut msg = self.common.clone();
        let priority = match stream {
            Stream::Stdout => b"6",
            Stream::Stderr => b"3",
        };
        field(&mut msg, "PRIORITY", priority);
        field(
            &mut msg,
            "MESSAGE",
            text.strip_suffix(b"\n").unwrap_or(text),
        );
        // A journal that cannot take the line loses it; the container is not stopped for it.
        let _ = self.socket.send(&msg);
    }
}

/// One field in the native protocol's binary-safe form: `KEY\n`, the length as 64-bit little
/// endian, the value, `\n`.
fn field(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    out.extend_from_slice(key.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(&(value.len() as u64).to_le_bytes());
    out.extend_from_slice(value);
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_carry_dockers_fields() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("socket");
        let server = UnixDatagram::bind(&path).unwrap();
        let id = "ab".repeat(32);
        let j =
            Journal::connect(&path, &id, "web", None, vec![("MY_VAR".into(), "x".into())]).unwrap();
        j.line(Stream::Stderr, b"oops\n");
        let mut buf = [0u8; 4096];
        let n = server.recv(&mut buf).unwrap();
        let got = &buf[..n];
        let has = |k: &str, v: &str| {
            let mut want = Vec::new();
            field(&mut want, k, v.as_bytes());
            got.windows(want.len()).any(|w| w == want.as_slice())
        };
        assert!(has("MESSAGE", "oops"));
        assert!(has("PRIORITY", "3"));
        assert!(has("CONTAINER_NAME", "web"));
        assert!(has("CONTAINER_ID", &id[..12]));
        assert!(has("CONTAINER_ID_FULL", &id));
        assert!(has("SYSLOG_IDENTIFIER", &id[..12]));
        assert!(has("MY_VAR", "x"));
    }
}
