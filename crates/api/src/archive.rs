//! `/containers/{id}/archive`: `docker cp` both ways. `HEAD` stats a path, `GET` sends it
//! as a tar, `PUT` unpacks a tar into a directory, each as `berth cp` does (paths resolved
//! inside the container's root, its mounts included). The path's stat travels in
//! `X-Docker-Container-Path-Stat` (base64 JSON, Go's file mode bits).

use crate::body::{self, ChannelBody, ChannelReader, ChannelWriter, Reply};
use crate::error::ApiError;
use crate::query::Query;
use crate::Service;
use base64::Engine as _;
use berth_engine::cp::{CopyOptions, Destination, PathStat, Source};
use hyper::body::Incoming;
use serde_json::json;
use std::sync::Arc;

/// Go's `os.FileMode` of a `st_mode`: the permission bits and Go's type flags.
fn go_mode(mode: u32) -> u32 {
    const DIR: u32 = 1 << 31;
    const SYMLINK: u32 = 1 << 27;
    const DEVICE: u32 = 1 << 26;
    const PIPE: u32 = 1 << 25;
    const SOCKET: u32 = 1 << 24;
    const SETUID: u32 = 1 << 23;
    const SETGID: u32 = 1 << 22;
    const CHARDEV: u32 = 1 << 21;
    const STICKY: u32 = 1 << 20;
    let kind = match mode & libc::S_IFMT {
        libc::S_IFDIR => DIR,
        libc::S_IFLNK => SYMLINK,
        libc::S_IFBLK => DEVICE,
        libc::S_IFCHR => DEVICE | CHARDEV,
        libc::S_IFIFO => PIPE,
        libc::S_IFSOCK => SOCKET,
        _ => 0,
    };
    let special = [
        (libc::S_ISUID, SETUID),
        (libc::S_ISGID, SETGID),
        (libc::S_ISVTX, STICKY),
    ]
    .iter()
    .filter(|(bit, _)| mode & bit != 0)
    .fold(0, |acc, (_, go)| acc | go);
    kind | special | (mode & 0o777)
}

fn stat_header(s: &PathStat) -> Result<http::HeaderValue, ApiError> {
    let mtime =
        berth_engine::time::Timestamp::from_unix_nanos(s.mtime.saturating_mul(1_000_000_000));
    let v = json!({"name": s.name, "size": s.size, "mode": go_mode(s.mode),
                   "mtime": mtime.to_string(), "linkTarget": s.link_target});
    let encoded = base64::engine::general_purpose::STANDARD.encode(v.to_string());
    http::HeaderValue::from_str(&encoded).map_err(|e| ApiError::internal(e.to_string()))
}

fn path(q: &Query) -> Result<String, ApiError> {
    q.get("path")
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .ok_or_else(|| ApiError::bad_request("archive: the path parameter is required"))
}

impl Service {
    /// `HEAD` (stat only) and `GET` (the tar too).
    pub(crate) async fn archive_get(
        self: Arc<Self>,
        id: &str,
        q: Query,
        with_body: bool,
    ) -> Result<Reply, ApiError> {
        let (id, path) = (id.to_string(), path(&q)?);
        let stat = {
            let (id, path) = (id.clone(), path.clone());
            self.blocking(move |e, _| Ok(e.stat_path(&id, &path)?))
                .await?
        };
        let header = stat_header(&stat)?;
        let mut reply = match with_body {
            false => body::status(http::StatusCode::OK),
            true => {
                let (tx, reply_body) = ChannelBody::channel(16);
                let me = Arc::clone(&self);
                tokio::task::spawn_blocking(move || {
                    let Ok(engine) = me.engine() else { return };
                    let mut w = std::io::BufWriter::with_capacity(1 << 20, ChannelWriter(tx));
                    let copied = engine.copy_out(
                        &id,
                        &path,
                        Destination::Tar(&mut w),
                        &CopyOptions::default(),
                    );
                    // A failure half-way leaves the client a short tar, as dockerd's does.
                    if let Err(e) = copied {
                        tracing::warn!("archive {id}:{path}: {e}");
                    }
                    let _ = std::io::Write::flush(&mut w);
                });
                body::stream("application/x-tar", reply_body)
            }
        };
        reply
            .headers_mut()
            .insert("x-docker-container-path-stat", header);
        Ok(reply)
    }

    /// `PUT`: the body is a tar unpacked into directory `path` (`copyUIDGID` gives the files
    /// the container's user, as `cp -a`).
    pub(crate) async fn archive_put(
        self: Arc<Self>,
        id: &str,
        q: Query,
        b: Incoming,
    ) -> Result<Reply, ApiError> {
        let (id, path) = (id.to_string(), path(&q)?);
        let o = CopyOptions {
            archive: q.flag("copyUIDGID"),
            follow_link: false,
        };
        let mut reader = ChannelReader::new(b);
        self.blocking(move |e, _| {
            e.copy_in(&id, &path, Source::Tar(&mut reader), &o)?;
            Ok(body::status(http::StatusCode::OK))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn file_modes_take_gos_bits() {
        assert_eq!(super::go_mode(libc::S_IFREG | 0o644), 0o644);
        assert_eq!(super::go_mode(libc::S_IFDIR | 0o755), (1 << 31) | 0o755);
        assert_eq!(super::go_mode(libc::S_IFLNK | 0o777), (1 << 27) | 0o777);
        assert_eq!(
            super::go_mode(libc::S_IFREG | libc::S_ISUID | 0o755),
            (1 << 23) | 0o755
        );
    }
}
