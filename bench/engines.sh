#!/usr/bin/env bash
# bench/engines.sh — the runtime as the engines use it: podman and containerd each start a
# busybox container that runs `true`, with berth-runtime, runc and crun as the runtime, all in
# one hyperfine run (as root):
#
#   cargo build --release -p berth-runtime && bench/engines.sh
#
#   podman --runtime RT run --rm --network none localhost/busybox true
#   ctr run --rm --runc-binary RT localhost/busybox:latest ID true     (runc shim, fresh id)
#
# The clients are Debian's (podman 4.3 + conmon, containerd 1.6), set up as the interop tests
# set them up (tests/interop/): private stores, a private containerd, the locally built busybox
# image. Everything runs in a private mount and network namespace under a subreaper. On a
# hybrid host whose /sys/fs/cgroup/unified has controllers crun 1.8 refuses to start, so that
# mount is removed in the namespace: every runtime sees plain cgroup v1.
#
# Environment: RUNS=20 WARMUP=3  BERTH_RUNTIME=target/release/berth-runtime
# Output: hyperfine's tables, then medians and ratios to runc (markdown), in $OUT (default a
# fresh /tmp/berth-bench-engines.XXXXXX, kept).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-20}
WARMUP=${WARMUP:-3}
BERTH_RUNTIME=$(readlink -f "${BERTH_RUNTIME:-target/release/berth-runtime}")
for t in hyperfine jq podman ctr containerd runc crun tini skopeo umoci; do
  command -v "$t" >/dev/null || { echo "missing $t (see .ci/packages)" >&2; exit 1; }
done

if [ -z "${BENCH_INNER:-}" ]; then
  [ -x "$BERTH_RUNTIME" ] || { echo "build it first: cargo build --release -p berth-runtime" >&2; exit 1; }
  OUT=${OUT:-$(mktemp -d /tmp/berth-bench-engines.XXXXXX)}
  export BENCH_INNER=1 OUT BERTH_RUNTIME
  exec tini -s -- unshare --net --mount --propagation private "$0" "$@"
fi

ip link set lo up
if [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then umount /sys/fs/cgroup/unified; fi
W=$OUT/work
mkdir -p "$W"
export W BERTH_INTEROP_DIR=$W
# shellcheck source=tests/interop/podman-env.sh
. tests/interop/podman-env.sh
CTR=(ctr --address "$W/containerd/containerd.sock" -n bench)
cleanup() {
  podman rm -af -t 0 >/dev/null 2>&1 || true
  tests/interop/containerd.sh stop "$W/containerd"
  rmdir /run/containerd/runc/bench 2>/dev/null || true   # the shims' runtime root
  # the cgroup parent ctr's namespace made (podman's libpod_parent is left: others share it)
  for d in /sys/fs/cgroup/*/bench; do
    [ -d "$d" ] && { find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true; }
  done
  rm -rf "$W"
}
trap cleanup EXIT
tests/interop/images.sh "$W/images"
podman load -q -i "$W/images/busybox.docker.tar" >/dev/null
tests/interop/containerd.sh start "$W/containerd"
"${CTR[@]}" images import "$W/images/busybox.docker.tar" >/dev/null

labels=(berth runc crun)
paths=("$BERTH_RUNTIME" "$(command -v runc)" "$(command -v crun)")
cmds=()
for i in "${!labels[@]}"; do
  cmds+=(-n "podman ${labels[$i]}" "podman --runtime ${paths[$i]} run --rm --network none localhost/busybox true")
done
for i in "${!labels[@]}"; do
  cmds+=(-n "ctr ${labels[$i]}" "${CTR[*]} run --rm --runc-binary ${paths[$i]} localhost/busybox:latest b-\$\$ true")
done
echo "# $(date -u +%FT%TZ) $("$BERTH_RUNTIME" --version | head -1), $(runc --version | head -1), $(crun --version | head -1), loadavg $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/summary.md"
hyperfine --warmup "$WARMUP" --runs "$RUNS" --style basic --export-json "$OUT/hyperfine.json" "${cmds[@]}"
{
  echo
  echo "| client | runtime | median ms | min ms | max ms | vs runc |"
  echo "|---|---|---|---|---|---|"
  jq -r '.results | map({client: (.command | split(" ")[0]), runtime: (.command | split(" ")[1]), median, min, max}) as $r
    | $r[] | . as $x | ($r[] | select(.client == $x.client and .runtime == "runc") | .median) as $base
    | "| \($x.client) | \($x.runtime) | \($x.median*1000|round) | \($x.min*1000|round) | \($x.max*1000|round) | \($x.median/$base*100|round/100) |"' "$OUT/hyperfine.json"
  echo
  echo "loadavg at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee -a "$OUT/summary.md"
echo "results in $OUT" >&2
