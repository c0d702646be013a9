#!/usr/bin/env bash
# Installs berth and runs real containers, with no registry access: builds the binaries,
# installs them to /usr/local/bin, makes a busybox bundle from Debian's busybox-static and
# runs it with berth-runtime, then imports the same files as an image and runs that with the
# engine (`berth run`). Run as root on Debian or Ubuntu; as another user, it re-runs itself
# through sudo where there is one.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/as-root.sh
. scripts/as-root.sh
as_root scripts/quickstart.sh "$@"

export DEBIAN_FRONTEND=noninteractive
need=()
for p in busybox-static build-essential pkg-config libseccomp-dev libssl-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
[ ${#need[@]} -eq 0 ] || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}"; }
if ! command -v cargo >/dev/null; then
  echo "quickstart: cargo not found; install a Rust toolchain >= 1.87 (https://rustup.rs) and rerun" >&2
  exit 1
fi

scripts/build-static.sh >/dev/null
install -m 0755 target/static/berth-runtime target/static/berth-monitor target/static/berth /usr/local/bin/

bundle=/tmp/berth-quickstart
rm -rf "$bundle"
mkdir -p "$bundle/rootfs/bin"
cp /bin/busybox "$bundle/rootfs/bin/busybox"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$bundle/rootfs/bin/$a"; done
mkdir -p "$bundle/rootfs"/{etc,proc,sys,dev,tmp,root}
echo 'root:x:0:0:root:/root:/bin/sh' > "$bundle/rootfs/etc/passwd"
berth-runtime spec --bundle "$bundle"
# No terminal, and a command that shows it really is a container.
sed -i -e 's/"terminal": true/"terminal": false/' \
  -e 's/"sh"$/"sh", "-c", "echo hello from $(hostname): pid $$, uid $(id -u); ls \/"/' "$bundle/config.json"
berth-runtime run --bundle "$bundle" "quickstart-$$"

# The engine: the same files as an image in berth's store, run from there.
tar -C "$bundle/rootfs" -cf "$bundle/busybox.tar" .
berth import -c 'CMD ["sh"]' "$bundle/busybox.tar" busybox >/dev/null
berth run --rm busybox sh -c 'echo hello from $(hostname)'
