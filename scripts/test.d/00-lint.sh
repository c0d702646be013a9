# Formatting and lints: a red lint fails CI like a red test.
set -euo pipefail
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
