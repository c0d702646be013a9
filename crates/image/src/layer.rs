//! Bringing one layer into a staging area: the blob stream is hashed (and saved, when the
//! store lacks it) while it is decompressed, hashed again and unpacked, all in one pass.

use std::io::{self, BufReader, Read, Write};

use crate::digest::HashReader;
use crate::store::{BlobWriter, Layer, Staging, StoreError};
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
        Needs { blob: !staging.has_blob(&layer.blob), snapshot: !staging.has_snapshot(&layer.chain_id) }
    }

    /// Nothing to do.
    pub fn none(&self) -> bool {
        !self.blob && !self.snapshot
    }
}

/// Reads `src` (the layer blob as stored or transferred) once: saves it if `needs.blob`,
/// unpacks it if `needs.snapshot`, and checks its digest, size and diff ID.
pub fn ingest<R: Read>(staging: &Staging<'_>, layer: &Layer, needs: &Needs, src: R) -> Result<(), StoreError> {
    let what = format!("layer {}", layer.blob);
    let limited = SizeGuard { inner: src, left: layer.size, what: what.clone() };
    let writer = if needs.blob { Some(staging.blob_writer()?) } else { None };
    let mut tee = HashReader::new(Tee { inner: limited, copy: writer });
    let io_err = |e: io::Error| StoreError::Io { op: "read", path: what.clone().into(), source: e };
    if needs.snapshot {
        let root = staging.snapshot_dir(&layer.chain_id)?;
        let unpacked = {
            let decoded = layer.compression.decoder(BufReader::with_capacity(1 << 17, &mut tee)).map_err(io_err)?;
            let mut diff = HashReader::new(decoded);
            unpack::unpack(&mut diff, root, Options::default(), &layer.blob.to_string()).map(|()| diff.finish().0)
        };
        match unpacked {
            Ok(diff_id) if diff_id != layer.diff_id => {
                return Err(StoreError::DigestMismatch { what: format!("{what} diff ID"), expected: layer.diff_id.clone(), actual: diff_id });
            }
            Ok(_) => {}
            // Corrupt content often breaks the tar first; the blob digest names the real cause.
            Err(e) => {
                let drained = io::copy(&mut tee, &mut io::sink()).is_ok();
                let (digest, size, _) = tee.finish();
                if drained && (digest != layer.blob || size != layer.size) {
                    return Err(blob_mismatch(layer, &what, digest, size));
                }
                return Err(e.into());
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
    Ok(())
}

fn blob_mismatch(layer: &Layer, what: &str, actual: crate::digest::Digest, size: u64) -> StoreError {
    StoreError::DigestMismatch { what: format!("{what} ({size} of {} bytes)", layer.size), expected: layer.blob.clone(), actual }
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
            let why = format!("{}: more data than the {} bytes its descriptor declares", self.what, self.left);
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
