//! Progress reports from long operations (pull, push, load); the binary decides how to
//! show them (bars on a terminal, plain lines otherwise).

/// Receives progress of per-item transfers (layers, blobs). Called from worker threads.
pub trait Progress: Sync {
    /// A transfer of `total` bytes starts; `id` is a short digest.
    fn begin(&self, id: &str, label: &str, total: u64);
    /// `n` more bytes of `id` were transferred.
    fn advance(&self, id: &str, n: u64);
    /// `id` is finished; `status` says how ("done", "exists", "mounted" ...).
    fn finish(&self, id: &str, status: &str);
    /// A one-line message (resolved digest, retries, ...).
    fn message(&self, msg: &str);
}

/// Reports nothing.
pub struct Silent;

impl Progress for Silent {
    fn begin(&self, _: &str, _: &str, _: u64) {}
    fn advance(&self, _: &str, _: u64) {}
    fn finish(&self, _: &str, _: &str) {}
    fn message(&self, _: &str) {}
}
