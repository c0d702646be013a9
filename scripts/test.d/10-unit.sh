# Build the release binaries and run every crate's tests (unit and integration) as root.
# tini -s makes this shell's tree a subreaper: the inits of created containers are reparented
# here and reaped, because PID 1 on some hosts (this CI's among them) does not reap orphans.
set -euo pipefail
cargo build --release --locked
exec tini -s -- cargo test --workspace --locked -- --test-threads=2
