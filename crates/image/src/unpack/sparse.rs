//! GNU sparse files. The tar crate expands old GNU sparse entries (type 'S') itself, with
//! zeros for the holes; the PAX formats 0.0, 0.1 and 1.0 it passes through raw, the map in
//! PAX records (0.x) or in front of the data (1.0). Both become files whose holes are holes
//! on disk (skipped by seeking, the size set by ftruncate), as Go's archive/tar, which
//! docker uses, makes them. Maps are checked as Go checks them.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

/// Largest size of a sparse file (64 GiB). Its holes take no space, but the tar crate hands
/// those of an 'S' entry over as zeros, which are read and checked like data: a layer of a
/// few bytes must not keep the unpacker busy for minutes.
const MAX_SIZE: u64 = 64 << 30;
/// Most segments in a map (each takes memory while the map is checked).
const MAX_SEGMENTS: u64 = 1 << 20;
/// Data is copied in chunks this large.
const CHUNK: usize = 64 << 10;
/// Zeros are skipped in pieces this large: a filesystem block, the least a hole takes.
const HOLE: usize = 4096;

/// Why a sparse entry could not be written.
#[derive(Debug)]
pub enum SparseError {
    /// The map does not describe a file that can exist.
    Invalid(String),
    /// Reading the entry failed (or it ended early).
    Read(io::Error),
    /// Writing the file failed.
    Write(io::Error),
}

/// A data segment: offset in the file, length.
type Segment = (u64, u64);

/// A sparse file described by PAX records.
#[derive(Debug)]
pub struct PaxSparse {
    /// The file's name (`GNU.sparse.name`), when the header carries a placeholder.
    pub name: Option<Vec<u8>>,
    /// The size of the expanded file.
    size: u64,
    /// The data segments; None in format 1.0, where they precede the data.
    map: Option<Vec<Segment>>,
}

fn number(v: &[u8], what: &str) -> Result<u64, SparseError> {
    std::str::from_utf8(v)
        .ok()
        .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            SparseError::Invalid(format!("{what} \"{}\" is not a number", v.escape_ascii()))
        })
}

/// The last value of `key` among the records.
fn record<'r>(records: &'r [(Vec<u8>, Vec<u8>)], key: &[u8]) -> Option<&'r [u8]> {
    records
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_slice())
}

/// The real name of a PAX sparse file, whose header names a placeholder.
pub fn name_in(records: &[(Vec<u8>, Vec<u8>)]) -> Option<&[u8]> {
    record(records, b"GNU.sparse.name")
}

impl PaxSparse {
    /// The sparse file that an entry's `GNU.sparse.*` PAX records describe, if any.
    /// `physical` is the size of the entry's data. Unknown versions are left alone (the
    /// data is then the file), as Go does.
    pub fn parse(
        records: &[(Vec<u8>, Vec<u8>)],
        physical: u64,
    ) -> Result<Option<PaxSparse>, SparseError> {
        let get = |key: &[u8]| record(records, key);
        // Format 0.0 repeats offset and numbytes records, which make the map in order.
        let pairs: Vec<&(Vec<u8>, Vec<u8>)> = records
            .iter()
            .filter(|(k, _)| k == b"GNU.sparse.offset" || k == b"GNU.sparse.numbytes")
            .collect();
        let v1 = match (get(b"GNU.sparse.major"), get(b"GNU.sparse.minor")) {
            (Some(b"1"), Some(b"0")) => true,
            (Some(b"0"), Some(b"0" | b"1")) => false,
            (None, None) if get(b"GNU.sparse.map").is_some() || !pairs.is_empty() => false,
            _ => return Ok(None),
        };
        let size = match get(b"GNU.sparse.size").or(get(b"GNU.sparse.realsize")) {
            Some(v) => number(v, "sparse size")?,
            None => physical,
        };
        check_size(size)?;
        let map = if v1 {
            None
        } else {
            let count = get(b"GNU.sparse.numblocks")
                .ok_or_else(|| {
                    SparseError::Invalid("sparse map without GNU.sparse.numblocks".into())
                })
                .and_then(|v| number(v, "sparse segment count"))?;
            check_count(count)?;
            let values: Vec<&[u8]> = match get(b"GNU.sparse.map") {
                Some(m) if !m.is_empty() => m.split(|&b| b == b',').collect(),
                Some(_) => Vec::new(),
                None => {
                    for (i, (k, _)) in pairs.iter().enumerate() {
                        let want: &[u8] = if i % 2 == 0 {
                            b"GNU.sparse.offset"
                        } else {
                            b"GNU.sparse.numbytes"
                        };
                        if k != want {
                            return Err(SparseError::Invalid(
                                "sparse offsets and sizes out of turn".into(),
                            ));
                        }
                    }
                    pairs.iter().map(|(_, v)| v.as_slice()).collect()
                }
            };
            if values.len() as u64 != 2 * count {
                return Err(SparseError::Invalid(format!(
                    "sparse map of {} numbers for {count} segments",
                    values.len()
                )));
            }
            let mut map = Vec::with_capacity(values.len() / 2);
            for pair in values.chunks_exact(2) {
                map.push((
                    number(pair[0], "sparse offset")?,
                    number(pair[1], "sparse length")?,
                ));
            }
            Some(map)
        };
        Ok(Some(PaxSparse {
            name: name_in(records).map(<[u8]>::to_vec),
            size,
            map,
        }))
    }

    /// Writes the file into `f` from `data`, the entry's `physical` bytes.
    pub fn write(
        self,
        data: &mut impl Read,
        physical: u64,
        f: &mut File,
    ) -> Result<(), SparseError> {
        let (map, left) = match self.map {
            Some(map) => (map, physical),
            None => {
                let (map, used) = read_map(data, physical)?;
                (map, physical - used)
            }
        };
        check(&map, self.size, left)?;
        for (offset, len) in map {
            f.seek(SeekFrom::Start(offset))
                .map_err(SparseError::Write)?;
            copy_with_holes(data, len, f)?;
        }
        f.set_len(self.size).map_err(SparseError::Write)
    }
}

fn check_size(size: u64) -> Result<(), SparseError> {
    if size > MAX_SIZE {
        return Err(SparseError::Invalid(format!(
            "sparse file of {size} bytes (at most {MAX_SIZE})"
        )));
    }
    Ok(())
}

fn check_count(count: u64) -> Result<(), SparseError> {
    if count > MAX_SEGMENTS {
        return Err(SparseError::Invalid(format!(
            "sparse map of {count} segments (at most {MAX_SEGMENTS})"
        )));
    }
    Ok(())
}

/// Checks that the segments are in order, do not overlap, lie within the file and hold
/// exactly the entry's data.
fn check(map: &[Segment], size: u64, data: u64) -> Result<(), SparseError> {
    let (mut end, mut total) = (0u64, 0u64);
    for &(offset, len) in map {
        if offset < end {
            return Err(SparseError::Invalid(format!(
                "sparse segment at {offset} overlaps or precedes the one before"
            )));
        }
        end = offset
            .checked_add(len)
            .filter(|&e| e <= size)
            .ok_or_else(|| {
                SparseError::Invalid(format!(
                    "sparse segment of {len} bytes at {offset} goes past the file's size {size}"
                ))
            })?;
        total += len;
    }
    if total != data {
        return Err(SparseError::Invalid(format!(
            "sparse map holds {total} bytes of data, the entry {data}"
        )));
    }
    Ok(())
}

/// Reads a format 1.0 map: decimal numbers, each ending in a newline (the count, then an
/// offset and a length per segment), in as many 512-byte blocks as it takes. Returns the
/// map and the bytes it took.
fn read_map(data: &mut impl Read, physical: u64) -> Result<(Vec<Segment>, u64), SparseError> {
    let mut r = MapReader {
        data,
        physical,
        block: [0; 512],
        at: 512,
        used: 0,
    };
    let count = r.number()?;
    check_count(count)?;
    let mut map = Vec::new();
    for _ in 0..count {
        map.push((r.number()?, r.number()?));
    }
    Ok((map, r.used))
}

struct MapReader<'d, R> {
    data: &'d mut R,
    physical: u64,
    block: [u8; 512],
    at: usize,
    used: u64,
}

impl<R: Read> MapReader<'_, R> {
    fn number(&mut self) -> Result<u64, SparseError> {
        let mut digits = Vec::new();
        loop {
            if self.at == self.block.len() {
                if self.used + 512 > self.physical {
                    return Err(SparseError::Invalid(
                        "sparse map runs past the entry's data".into(),
                    ));
                }
                self.data
                    .read_exact(&mut self.block)
                    .map_err(SparseError::Read)?;
                (self.at, self.used) = (0, self.used + 512);
            }
            let b = self.block[self.at];
            self.at += 1;
            if b == b'\n' {
                return number(&digits, "sparse map entry");
            }
            // u64::MAX has 20 digits.
            if digits.len() == 20 {
                return Err(SparseError::Invalid(
                    "sparse map entry longer than a number".into(),
                ));
            }
            digits.push(b);
        }
    }
}

/// Copies the expansion of an old GNU sparse entry (`size` bytes, holes as zeros) into `f`.
pub fn expand_gnu(src: &mut impl Read, size: u64, f: &mut File) -> Result<(), SparseError> {
    check_size(size)?;
    copy_with_holes(src, size, f)?;
    f.set_len(size).map_err(SparseError::Write)
}

/// Copies `len` bytes from `src` to `f` at its position, seeking over pieces of zeros.
fn copy_with_holes(src: &mut impl Read, len: u64, f: &mut File) -> Result<(), SparseError> {
    let mut buf = vec![0u8; CHUNK];
    let mut left = len;
    while left > 0 {
        let n = usize::try_from(left).map_or(CHUNK, |l| l.min(CHUNK));
        let chunk = &mut buf[..n];
        src.read_exact(chunk).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => SparseError::Read(io::Error::new(
                e.kind(),
                format!("data ends before its {len} bytes"),
            )),
            _ => SparseError::Read(e),
        })?;
        // Runs of pieces that are all zeros, or not: a hole or one write each.
        let zeros = |at: usize| chunk[at..(at + HOLE).min(n)].iter().all(|&b| b == 0);
        let mut start = 0;
        while start < n {
            let hole = zeros(start);
            let mut end = start;
            while end < n && zeros(end) == hole {
                end = (end + HOLE).min(n);
            }
            if hole {
                f.seek(SeekFrom::Current((end - start) as i64))
                    .map_err(SparseError::Write)?;
            } else {
                f.write_all(&chunk[start..end])
                    .map_err(SparseError::Write)?;
            }
            start = end;
        }
        left -= n as u64;
    }
    Ok(())
}
