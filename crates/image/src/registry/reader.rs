//! A blob download that survives dropped connections: it resumes where it stopped with
//! a `Range` request, a few times, before giving up.

use std::io::{self, Read};
use std::time::Duration;

use reqwest::blocking::Response;
use reqwest::StatusCode;

use super::Client;
use crate::progress::Progress;

const RETRIES: u32 = 3;

/// Reads blob `digest` of `repo`, `size` bytes long, reporting progress under `id`.
pub struct BlobReader<'a> {
    client: &'a Client,
    repo: &'a str,
    digest: String,
    size: u64,
    offset: u64,
    resp: Option<Response>,
    retries: u32,
    progress: &'a dyn Progress,
    id: String,
}

impl<'a> BlobReader<'a> {
    pub fn new(
        client: &'a Client,
        repo: &'a str,
        digest: String,
        size: u64,
        progress: &'a dyn Progress,
        id: String,
    ) -> Self {
        BlobReader {
            client,
            repo,
            digest,
            size,
            offset: 0,
            resp: None,
            retries: 0,
            progress,
            id,
        }
    }

    fn open(&mut self) -> io::Result<()> {
        let mut resp = self
            .client
            .get_blob(self.repo, &self.digest, self.offset)
            .map_err(io::Error::other)?;
        if self.offset > 0 && resp.status() != StatusCode::PARTIAL_CONTENT {
            // The server ignored Range: skip what we already have.
            io::copy(&mut (&mut resp).take(self.offset), &mut io::sink())?;
        }
        self.resp = Some(resp);
        Ok(())
    }

    fn retry_or(&mut self, e: io::Error) -> io::Result<()> {
        self.resp = None;
        if self.retries >= RETRIES {
            let why = format!(
                "blob {}: download failed after {} of {} bytes and {RETRIES} retries: {}",
                self.digest,
                self.offset,
                self.size,
                super::error_chain(&e)
            );
            return Err(io::Error::new(e.kind(), why));
        }
        self.retries += 1;
        let why = super::error_chain(&e);
        self.progress.message(&format!(
            "blob {}: {why}; resuming at byte {} (retry {})",
            self.digest, self.offset, self.retries
        ));
        std::thread::sleep(Duration::from_millis(250 * u64::from(self.retries)));
        Ok(())
    }
}

impl Read for BlobReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.resp.is_none() {
                if let Err(e) = self.open() {
                    self.retry_or(e)?;
                    continue;
                }
            }
            let Some(resp) = self.resp.as_mut() else {
                continue;
            };
            match resp.read(buf) {
                Ok(0) if self.offset < self.size && !buf.is_empty() => {
                    self.retry_or(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "connection closed early",
                    ))?;
                }
                Ok(n) => {
                    self.offset += n as u64;
                    self.progress.advance(&self.id, n as u64);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => self.retry_or(e)?,
            }
        }
    }
}
