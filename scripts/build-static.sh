#!/usr/bin/env bash
# Builds berth-runtime as a fully static executable (glibc and libseccomp linked in) at
# target/static/berth-runtime. No dynamic loader runs at each of the several invocations a
# container's lifecycle makes: in bench/runtime.sh that is ~20% of the lifecycle time and
# ~0.8 MiB of peak RSS (docs/BENCHMARKS.md). `cargo build --release` still builds the usual
# dynamic binaries in target/release/.
set -euo pipefail
cd "$(dirname "$0")/.."
triple=$(rustc -vV | sed -n 's/^host: //p')
# crt-static must reach only the target's crates: with an explicit --target, build scripts
# and proc macros are built for the host without these flags. relocation-model=static makes a
# non-PIE executable: nothing to relocate at each start (a static PIE rewrites ~190 KiB of
# pointers from a 250 KiB table, all of it RSS). link-ordered.sh places the functions the
# lifecycle runs together (scripts/startup.order).
LIBSECCOMP_LINK_TYPE=static LIBSECCOMP_LIB_PATH="/usr/lib/$(gcc -print-multiarch)" \
  RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static -C linker=$PWD/scripts/link-ordered.sh" \
  cargo build --release --locked -p berth-runtime --target "$triple"
mkdir -p target/static
install -m 0755 "target/$triple/release/berth-runtime" target/static/berth-runtime
echo target/static/berth-runtime
