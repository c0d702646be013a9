#!/usr/bin/env bash
# Builds the binaries scripts/quickstart.sh installs, in target/static/:
# * berth-runtime and berth-monitor, fully static (glibc and libseccomp linked in). No
#   dynamic loader runs at each of the several invocations a container's lifecycle makes: in
#   bench/runtime.sh that is ~20% of the lifecycle time and ~0.8 MiB of peak RSS; and a
#   monitor, one per detached container, keeps no relocated pages of its own
#   (docs/BENCHMARKS.md).
# * berth, with OpenSSL and libseccomp linked in but glibc still shared: its registry client
#   resolves names through glibc's NSS modules, which a static glibc would dlopen from
#   whatever glibc the host has. Loading libssl and libcrypto cost each berth command about
#   1 ms, and `run` pays the loader again for each stage it executes (docs/BENCHMARKS.md).
# `cargo build --release` still builds the usual dynamic binaries in target/release/; berth
# finds berth-monitor beside itself.
set -euo pipefail
cd "$(dirname "$0")/.."
triple=$(rustc -vV | sed -n 's/^host: //p')
multiarch=$(gcc -print-multiarch)
# crt-static must reach only the target's crates: with an explicit --target, build scripts
# and proc macros are built for the host without these flags. relocation-model=static makes a
# non-PIE executable: nothing to relocate at each start (a static PIE rewrites ~190 KiB of
# pointers from a 250 KiB table, all of it RSS). link-ordered.sh places the functions the
# lifecycle runs together (scripts/startup.order).
LIBSECCOMP_LINK_TYPE=static LIBSECCOMP_LIB_PATH="/usr/lib/$multiarch" \
  RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static -C linker=$PWD/scripts/link-ordered.sh" \
  cargo build --release --locked -p berth-runtime -p berth --bin berth-runtime --bin berth-monitor \
  --target "$triple"
# Its own target dir: without crt-static every dependency is built differently, and sharing
# one would rebuild both sets each time. OpenSSL's static libraries are in Debian's
# libssl-dev; pkg-config never offers them, hence the explicit directories.
OPENSSL_STATIC=1 OPENSSL_LIB_DIR="/usr/lib/$multiarch" OPENSSL_INCLUDE_DIR=/usr/include \
  LIBSECCOMP_LINK_TYPE=static LIBSECCOMP_LIB_PATH="/usr/lib/$multiarch" \
  RUSTFLAGS="-C relocation-model=static -C linker=$PWD/scripts/link-ordered.sh" \
  cargo build --release --locked -p berth --bin berth --target "$triple" --target-dir target/engine
mkdir -p target/static
for b in berth-runtime berth-monitor; do
  install -m 0755 "target/$triple/release/$b" "target/static/$b"
  echo "target/static/$b"
done
install -m 0755 "target/engine/$triple/release/berth" target/static/berth
echo target/static/berth
