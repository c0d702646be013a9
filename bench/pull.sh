#!/usr/bin/env bash
# bench/pull.sh — pull + unpack of a Debian bookworm image (one 49 MB gzip layer) from a
# local docker-registry, by berth, podman, skopeo+umoci and containerd's `ctr pull`, each
# into an empty store, in one hyperfine run; then the peak RSS of one run of each.
#
#   cargo build --release -p berth && bench/pull.sh      (as root; RUNS=10 by default)
#
# Needs: docker-registry, skopeo, umoci, podman, containerd, hyperfine, GNU time, and the
# Debian rootfs tar from tests/registry/debian-rootfs.sh (debootstrap, cached).
# Everything lives in a temporary directory and is stopped and removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BERTH=${BERTH:-$ROOT/target/release/berth}
RUNS=${RUNS:-10}
PORT=5120
W=$(mktemp -d /tmp/berth-bench.XXXXXX)
REF=127.0.0.1:$PORT/debian:bookworm
CSOCK=$W/containerd/containerd.sock
CTR=(ctr --address "$CSOCK" -n pullbench)

cleanup() {
  [ -f "$W/containerd.pid" ] && kill "$(cat "$W/containerd.pid")" 2>/dev/null && sleep 1
  PLAIN_PORT=$PORT BASIC_PORT=5121 TOKENSRV_PORT=5122 TOKEN_PORT=5123 tests/registry/registry.sh stop "$W/registry" || true
  podman "${PM[@]}" rmi -af >/dev/null 2>&1 || true
  { grep -o " $W[^ ]*" /proc/self/mounts || true; } | sort -r | while read -r m; do umount -l "$m" || true; done
  rm -rf "$W"
}
trap cleanup EXIT

[ -x "$BERTH" ] || { echo "build berth first: cargo build --release -p berth" >&2; exit 1; }
CACHE=$(tests/registry/debian-rootfs.sh)

# The image: one gzip layer, as umoci writes it, pushed to a plain-HTTP registry.
umoci init --layout "$W/oci" && umoci new --image "$W/oci:bookworm"
umoci raw add-layer --image "$W/oci:bookworm" "$CACHE"
umoci config --image "$W/oci:bookworm" --os linux --architecture amd64 --config.cmd /bin/bash
PLAIN_PORT=$PORT BASIC_PORT=5121 TOKENSRV_PORT=5122 TOKEN_PORT=5123 tests/registry/registry.sh start "$W/registry"
skopeo copy -q --dest-tls-verify=false "oci:$W/oci:bookworm" "docker://$REF"

# Private podman and containerd.
mkdir -p "$W/podman" "$W/bcfg" "$W/containerd"
printf '[[registry]]\nlocation = "127.0.0.1:%s"\ninsecure = true\n' "$PORT" > "$W/podman/registries.conf"
cp "$W/podman/registries.conf" "$W/bcfg/registries.toml"
export CONTAINERS_REGISTRIES_CONF=$W/podman/registries.conf
PM=(--root "$W/podman/root" --runroot "$W/podman/run" --tmpdir "$W/podman/tmp" --storage-driver overlay)
cat > "$W/containerd/config.toml" <<EOF2
version = 2
root = "$W/containerd/root"
state = "$W/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$CSOCK"
[ttrpc]
  address = "$CSOCK.ttrpc"
EOF2
setsid containerd --config "$W/containerd/config.toml" > "$W/containerd/log" 2>&1 < /dev/null &
echo $! > "$W/containerd.pid"
for _ in $(seq 50); do "${CTR[@]}" version >/dev/null 2>&1 && break; sleep 0.1; done

BERTH_CMD="$BERTH --root $W/berth --config $W/bcfg pull -q $REF"
PODMAN_CMD="podman ${PM[*]} pull -q $REF"
SKOPEO_CMD="sh -c 'skopeo copy -q --src-tls-verify=false docker://$REF oci:$W/sk:x && umoci unpack --image $W/sk:x $W/bundle >/dev/null'"
CTR_CMD="${CTR[*]} images pull --plain-http $REF"
echo "load before: $(cat /proc/loadavg)"
hyperfine -N --warmup 1 --runs "$RUNS" --style basic --export-json "$W/pull.json" --export-markdown "$W/pull.md" \
  -n berth --prepare "sh -c 'rm -rf $W/berth; sync'" "$BERTH_CMD" \
  -n podman --prepare "sh -c 'podman ${PM[*]} rmi -af >/dev/null 2>&1; sync'" "$PODMAN_CMD" \
  -n skopeo+umoci --prepare "sh -c 'rm -rf $W/sk $W/bundle; sync'" "$SKOPEO_CMD" \
  -n ctr --prepare "sh -c '${CTR[*]} images rm --sync $REF >/dev/null 2>&1; sync'" "$CTR_CMD"
echo "load after: $(cat /proc/loadavg)"

# Peak RSS of one cold run each (ctr is a client: containerd does the work, so its
# daemon's RSS is shown instead).
rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
rm -rf "$W/berth"; r_berth=$(rss sh -c "$BERTH_CMD")
podman "${PM[@]}" rmi -af >/dev/null 2>&1; r_podman=$(rss sh -c "$PODMAN_CMD")
rm -rf "$W/sk" "$W/bundle"; r_sk=$(rss sh -c "skopeo copy -q --src-tls-verify=false docker://$REF oci:$W/sk:x")
r_umoci=$(rss umoci unpack --image "$W/sk:x" "$W/bundle")
"${CTR[@]}" images rm --sync "$REF" >/dev/null 2>&1; "${CTR[@]}" images pull --plain-http "$REF" >/dev/null
r_ctrd=$(awk '/VmHWM/{print $2}' "/proc/$(cat "$W/containerd.pid")/status")

python3 - "$W/pull.json" "$r_berth" "$r_podman" "$r_sk" "$r_umoci" "$r_ctrd" <<'PY'
import json, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
rss = {"berth": sys.argv[2], "podman": sys.argv[3], "skopeo+umoci": f"{sys.argv[4]} + {sys.argv[5]}", "ctr": f"containerd {sys.argv[6]}"}
pod = res["podman"]["median"]
print("| tool | median (s) | min (s) | max (s) | vs podman | peak RSS (KiB) |")
print("|---|---|---|---|---|---|")
for name, r in res.items():
    print(f"| {name} | {r['median']:.3f} | {r['min']:.3f} | {r['max']:.3f} | {r['median'] / pod:.2f} | {rss[name]} |")
PY
