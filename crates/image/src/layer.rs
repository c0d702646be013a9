//! Bringing one layer into a staging area: the blob stream is hashed (and saved, when the
//! store lacks it) while it is decompressed, hashed again and unpacked, all in one pass.

use std::io::{self, BufReader, Read, Write};

use std::sync::mpsc::{self, Receiver, SyncSender};

use crate::digest::{Digest, HashReader};
use crate::media::Compression;
use crate::store::{BlobWriter, Layer, SnapshotMeta, Staging, StoreError};
use crate::unpack::{self, Options};

/// What a layer still needs.
pub struct Needs {
    /// The blob is not in the store yet.
    pub blob: bool,
    /// The snapshot is not in the store yet.
    pub snapshot: bool,
}

impl Needs {
    /// What `layer` lacks in `staging` (and the store behind it).
    pub fn of(staging: &Staging<'_>, layer: &Layer) -> Needs {
        Needs {
            blob: !staging.has_blob(&layer.blob),
            snapshot: !staging.has_snapshot(&layer.chain_id),
        }
    }

    /// Nothing to do.
    pub fn none(&self) -> bool {
        !self.blob && !self.snapshot
    }
}

/// Reads `src` (the layer blob as stored or transferred) once: saves it if `needs.blob`,
/// unpacks it if `needs.snapshot`, and checks its digest, size and diff ID.
pub fn ingest<R: Read + Send>(
    staging: &Staging<'_>,
    layer: &Layer,
    needs: &Needs,
    src: R,
) -> Result<(), StoreError> {
    let what = format!("layer {}", layer.blob);
    let limited = SizeGuard {
        inner: src,
        left: layer.size,
        what: what.clone(),
    };
    let writer = if needs.blob {
        Some(staging.blob_writer()?)
    } else {
        None
    };
    let mut tee = HashReader::new(Tee {
        inner: limited,
        copy: writer,
    });
    let io_err = |e: io::Error| StoreError::Io {
        op: "read",
        path: what.clone().into(),
        source: e,
    };
    let mut unpacked_meta = None;
    if needs.snapshot {
        let root = staging.snapshot_dir(&layer.chain_id)?;
        // Two threads: this one creates files (system time), the other downloads,
        // hashes and decompresses (user time); on two cores they overlap.
        let (tx, rx) = mpsc::sync_channel(8);
        let unpacked = std::thread::scope(|s| {
            let producer = s.spawn(|| decode(&mut tee, layer.compression, tx));
            let unpacked = unpack::unpack(
                ChanReader::new(rx),
                root,
                Options::default(),
                &layer.blob.to_string(),
            );
            let diff_id = producer
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("decoder thread panicked")));
            unpacked.map(|found| (found, diff_id))
        });
        let unpacked = match unpacked {
            Ok((found, Ok(d))) => Ok((found, d)),
            Ok((_, Err(e))) => Err(io_err(e)),
            Err(e) => Err(StoreError::from(e)),
        };
        match unpacked {
            Ok((_, diff_id)) if diff_id != layer.diff_id => {
                return Err(StoreError::DigestMismatch {
                    what: format!("{what} diff ID"),
                    expected: layer.diff_id.clone(),
                    actual: diff_id,
                });
            }
            Ok((found, _)) => {
                unpacked_meta = Some(SnapshotMeta {
                    opaque_root: found.opaque_root,
                })
            }
            // Corrupt content often breaks the tar first; the blob digest names the real cause.
            Err(e) => {
                let drained = io::copy(&mut tee, &mut io::sink()).is_ok();
                let (digest, size, _) = tee.finish();
                if drained && (digest != layer.blob || size != layer.size) {
                    return Err(blob_mismatch(layer, &what, digest, size));
                }
                return Err(e);
            }
        }
    }
    // Whatever the decoder left (trailing bytes) still belongs to the blob's digest.
    io::copy(&mut tee, &mut io::sink()).map_err(io_err)?;
    let (digest, size, inner) = tee.finish();
    if size != layer.size || digest != layer.blob {
        return Err(blob_mismatch(layer, &what, digest, size));
    }
    if let Some(w) = inner.copy {
        staging.finish_blob(w, Some(&layer.blob), &what)?;
    }
    // Last: the snapshot is complete only once everything about the layer checked out.
    if let Some(meta) = unpacked_meta {
        staging.finish_snapshot(&layer.chain_id, &meta)?;
    }
    Ok(())
}

/// Decompresses `src` into chunks for the unpacker and returns the diff ID. A read error
/// is passed on to the unpacker (which reports it); a closed channel means the unpacker
/// stopped, and decoding stops too.
fn decode<R: Read>(
    src: R,
    c: Compression,
    tx: SyncSender<io::Result<Vec<u8>>>,
) -> io::Result<Digest> {
    let decoded = c.decoder(BufReader::with_capacity(1 << 17, src));
    let mut diff = match decoded {
        Ok(d) => HashReader::new(d),
        Err(e) => return fail(&tx, e),
    };
    loop {
        let mut buf = vec![0u8; 1 << 18];
        let n = match diff.read(&mut buf) {
            Ok(0) => return Ok(diff.finish().0),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return fail(&tx, e),
        };
        buf.truncate(n);
        if tx.send(Ok(buf)).is_err() {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "unpacking stopped",
            ));
        }
    }
}

fn fail(tx: &SyncSender<io::Result<Vec<u8>>>, e: io::Error) -> io::Result<Digest> {
    let kind = e.kind();
    let _ = tx.send(Err(e));
    Err(io::Error::new(kind, "decoding failed"))
}

/// The unpacker's end of the channel.
struct ChanReader {
    rx: Receiver<io::Result<Vec<u8>>>,
    buf: Vec<u8>,
    pos: usize,
}

impl ChanReader {
    fn new(rx: Receiver<io::Result<Vec<u8>>>) -> Self {
        ChanReader {
            rx,
            buf: Vec::new(),
            pos: 0,
        }
    }
}

impl Read for ChanReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.buf.len() {
            match self.rx.recv() {
                Ok(Ok(b)) => (self.buf, self.pos) = (b, 0),
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn blob_mismatch(layer: &Layer, what: &str, actual: Digest, size: u64) -> StoreError {
    StoreError::DigestMismatch {
        what: format!("{what} ({size} of {} bytes)", layer.size),
        expected: layer.blob.clone(),
        actual,
    }
}

/// Fails a read that goes past the descriptor's size: a blob that never ends is cut off
/// at size + 1 bytes instead of filling the disk.
struct SizeGuard<R> {
    inner: R,
    left: u64,
    what: String,
}

impl<R: Read> Read for SizeGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let n64 = n as u64;
        if n64 > self.left {
            let why = format!(
                "{}: more data than the {} bytes its descriptor declares",
                self.what, self.left
            );
            return Err(io::Error::new(io::ErrorKind::InvalidData, why));
        }
        self.left -= n64;
        Ok(n)
    }
}

/// Copies what is read into a blob writer on the way.
struct Tee<R> {
    inner: R,
    copy: Option<BlobWriter>,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(w) = &mut self.copy {
            w.write_all(&buf[..n])?;
        }
        Ok(n)
    }
}
