#!/usr/bin/env bash
# debian-rootfs.sh — prints the path of a Debian bookworm minbase rootfs tar, building it
# with debootstrap on first use and caching it in /var/cache/berth-ci (names sorted,
# mtimes of the tar entries as debootstrap left them, owners numeric; no /dev, /proc,
# /sys contents, apt caches or logs).
set -euo pipefail
CACHE=/var/cache/berth-ci
OUT=$CACHE/debian-bookworm.tar
if [ ! -s "$OUT" ]; then
  mkdir -p "$CACHE"
  R=$(mktemp -d /tmp/berth-debootstrap.XXXXXX)
  trap 'rm -rf "$R"' EXIT
  MIRROR=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
  MIRROR=${MIRROR:-$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null)}
  debootstrap --variant=minbase bookworm "$R" "${MIRROR:-http://deb.debian.org/debian}" >&2
  tar -C "$R" --sort=name --numeric-owner --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
    --exclude='./var/cache/apt/archives/*.deb' --exclude='./var/lib/apt/lists/*' --exclude='./var/log/*' \
    -cf "$OUT.new" .
  mv "$OUT.new" "$OUT"
fi
echo "$OUT"
