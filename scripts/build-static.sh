#!/usr/bin/env bash
# Builds berth-runtime and berth-monitor as fully static executables (glibc and libseccomp
# linked in) in target/static/. No dynamic loader runs at each of the several invocations a
# container's lifecycle makes: in bench/runtime.sh that is ~20% of the lifecycle time and
# ~0.8 MiB of peak RSS; and a monitor, one per detached container, keeps no relocated pages
# of its own (docs/BENCHMARKS.md). `cargo build --release` still builds the usual dynamic
# binaries in target/release/; berth finds berth-monitor beside itself.
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
  cargo build --release --locked -p berth-runtime -p berth --bin berth-runtime --bin berth-monitor \
  --target "$triple"
mkdir -p target/static
for b in berth-runtime berth-monitor; do
  install -m 0755 "target/$triple/release/$b" "target/static/$b"
  echo "target/static/$b"
done
