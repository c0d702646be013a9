# Build the release binaries and run every crate's tests (unit and integration) as root.
# tini -s makes this shell's tree a subreaper: the inits of created containers are reparented
# here and reaped, because PID 1 on some hosts (this CI's among them) does not reap orphans.
# The tests run in a network namespace of their own (loopback up): containers default to the
# bridge network, whose bridge and firewall table must never reach the machine's namespace.
# (The engine's test harness also moves each test into a namespace of its own.) They are
# built first, outside it, where crates can still be fetched.
set -euo pipefail
cargo build --release --locked
cargo test --workspace --locked --no-run
exec tini -s -- unshare --net sh -c 'ip link set lo up && exec cargo test --workspace --locked -- --test-threads=2'
