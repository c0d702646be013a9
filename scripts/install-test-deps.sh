#!/usr/bin/env bash
# Installs the Debian packages listed in .ci/packages (idempotent, retries while dpkg is locked).
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t pkgs < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' .ci/packages)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
export DEBIAN_FRONTEND=noninteractive
for attempt in 1 2 3 4 5 6; do
  if apt-get install -y --no-install-recommends "${missing[@]}"; then exit 0; fi
  apt-get update || true
  sleep $((attempt * 5))
done
echo "install-test-deps: apt-get install ${missing[*]} failed" >&2
exit 1
