# Formatting and lints: a red lint fails CI like a red test.
set -euo pipefail
cargo fmt --all -- --check
# berth-init is built by the engine's build.rs, outside cargo's view of the crates.
rustfmt --edition 2021 --check crates/engine/init/main.rs
cargo clippy --workspace --all-targets --locked -- -D warnings
