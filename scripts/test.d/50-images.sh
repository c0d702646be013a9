# Image tests against real registries: builds a busybox and a Debian image locally,
# serves them from docker-registry three ways (plain HTTP, TLS + basic auth, TLS + token
# auth), pushes them with skopeo and runs berth's image tests, which compare berth's
# unpacked trees with umoci's. Everything it starts or mounts is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
for tool in docker-registry skopeo umoci debootstrap htpasswd openssl curl busybox; do
  command -v "$tool" >/dev/null || { echo "50-images: $tool is missing (see .ci/packages)" >&2; exit 1; }
done
W=$(mktemp -d /tmp/berth-images-ci.XXXXXX)
cleanup() {
  tests/registry/registry.sh stop "$W/registry" || true
  # Test stores may hold overlay mounts if a test died mid-way.
  { grep -o " $W[^ ]*" /proc/self/mounts || true; } | sort -r | while read -r m; do umount -l "$m" || true; done
  rm -rf "$W"
}
trap cleanup EXIT

TAROPTS=(--sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner)

# One-layer OCI layout from a rootfs tar (umoci), as the registry will serve it.
layout() { # name tag tar cmd
  local L=$W/oci/$1
  umoci init --layout "$L"
  umoci new --image "$L:$2"
  umoci raw add-layer --image "$L:$2" "$3"
  umoci config --image "$L:$2" --os linux --architecture amd64 --config.cmd "$4" \
    --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --config.user root --config.workingdir / --config.exposedports 8080/tcp --config.label org.berth.test=1
  umoci gc --layout "$L"
  umoci unpack --image "$L:$2" "$W/umoci/$1" >/dev/null
}

busybox_rootfs() {
  local R=$W/rootfs/busybox
  mkdir -p "$R"/{bin,etc,tmp,root,var/www,dev,proc,sys}
  chmod 1777 "$R/tmp"
  cp "$(command -v busybox)" "$R/bin/busybox"
  for a in sh ls cat echo id true false sleep; do ln -s busybox "$R/bin/$a"; done
  ln "$R/bin/busybox" "$R/bin/hardlinked-busybox"
  printf 'root:x:0:0:root:/root:/bin/sh\nwww:x:33:33:www:/var/www:/bin/false\n' > "$R/etc/passwd"
  printf 'root:x:0:\nwww:x:33:\nstaff:x:50:www\n' > "$R/etc/group"
  echo hello > "$R/var/www/index.html"; chown 33:33 "$R/var/www/index.html"
  chmod 4755 "$R/bin/busybox"
  setfattr -n user.berth.test -v yes "$R/etc/passwd" 2>/dev/null || true
  mkfifo "$R/dev/fifo"; mknod "$R/dev/null2" c 1 3
  tar -C "$R" "${TAROPTS[@]}" --xattrs --xattrs-include='user.*' -cf "$W/busybox.tar" .
}

mkdir -p "$W/oci" "$W/umoci" "$W/rootfs"
busybox_rootfs
layout busybox latest "$W/busybox.tar" /bin/sh
cp "$(tests/registry/debian-rootfs.sh)" "$W/debian.tar"
layout debian bookworm "$W/debian.tar" /bin/bash
# The same base under six more layers (bench/pull.sh's multi-layer image: thousands of
# small files, large files, overwrites, whiteouts): pulled with downloads running ahead
# of the unpacker.
umoci tag --image "$W/oci/debian:bookworm" multi
mkdir "$W/layers" && python3 bench/layers.py "$W/layers"
for l in "$W"/layers/*.tar; do umoci raw add-layer --image "$W/oci/debian:multi" "$l"; done
umoci unpack --image "$W/oci/debian:multi" "$W/umoci/multi" >/dev/null
# umoci leaves this rootfs 0700 although the base layer's "./" entry says 0755 (it does
# not with one layer); berth, like docker, keeps the base's mode.
chmod 755 "$W/umoci/multi/rootfs"

tests/registry/registry.sh start "$W/registry"
CD=$W/registry/certs.d
for img in busybox:latest debian:bookworm debian:multi; do
  skopeo copy -q --dest-tls-verify=false "oci:$W/oci/${img%%:*}:${img#*:}" "docker://127.0.0.1:5110/$img"
done
skopeo copy -q --dest-cert-dir "$CD/127.0.0.1:5111" --dest-creds tester:testpass \
  "oci:$W/oci/busybox:latest" docker://127.0.0.1:5111/busybox:latest
skopeo copy -q --dest-cert-dir "$CD/127.0.0.1:5113" --dest-creds tester:testpass \
  "oci:$W/oci/busybox:latest" docker://127.0.0.1:5113/busybox:latest

export BERTH_TEST_DIR=$W BERTH_TEST_PLAIN=127.0.0.1:5110 BERTH_TEST_BASIC=127.0.0.1:5111 \
  BERTH_TEST_TOKEN=127.0.0.1:5113 BERTH_TEST_CERTS=$CD BERTH_TEST_CREDS=tester:testpass
cargo build --locked -p berth
# Test stores (and any mount a failing test leaves) live under $W, which cleanup clears.
mkdir -p "$W/tmp"
# Only the tests that need these registries (ignored in a plain run); 10-unit runs the rest.
TMPDIR=$W/tmp tini -s -- cargo test --locked -p berth --test registry -- --ignored --test-threads=2
# berth build on the Debian image, compared with buildah bud's.
TMPDIR=$W/tmp tini -s -- cargo test --locked -p berth --test build -- --ignored
