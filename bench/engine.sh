#!/usr/bin/env bash
# bench/engine.sh — `berth run --rm busybox true` beside podman (and docker with DOCKER=1)
# running the same image the same way, in one hyperfine run, plus each client's peak RSS
# (as root):
#
#   cargo build --release -p berth && bench/engine.sh
#
#   berth  run --rm busybox true                                   (berth's own runtime core)
#   podman run --rm --network none --runtime runc|crun localhost/busybox true
#   docker run --rm --network none localhost/busybox true          (DOCKER=1; dockerd + runc)
#
# The image is made once from Debian's busybox-static (`berth import` of a rootfs tar), then
# `berth save` → `podman load` / `docker load`: every engine runs the same layer and config.
# podman and dockerd use the interop tests' private set-ups (tests/interop/: own stores,
# cgroupfs, no systemd). Everything runs in a private mount and network namespace under a
# subreaper; /sys/fs/cgroup/unified is unmounted there when it is cgroup2 (crun 1.8 refuses
# hybrid hosts whose cgroup2 has controllers), so every engine sees plain cgroup v1.
#
# Peak RSS: GNU time's %M (KiB) of the client command over RSS_SAMPLES runs (the largest):
# the client and what it waits for. podman's conmon and docker's daemons are not included;
# with DOCKER=1 the daemons' VmHWM is printed beside.
#
# Environment: RUNS=30 WARMUP=5 RSS_SAMPLES=10 DOCKER=0|1 BERTH=target/release/berth
# Output: hyperfine's tables, then summary.md (medians, ratios to berth, RSS) in $OUT
# (default a fresh /tmp/berth-bench-engine.XXXXXX, kept).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-30}
WARMUP=${WARMUP:-5}
RSS_SAMPLES=${RSS_SAMPLES:-10}
DOCKER=${DOCKER:-0}
BERTH=$(readlink -f "${BERTH:-target/release/berth}")
for t in hyperfine jq podman runc crun tini unshare /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "missing $t (see .ci/packages)" >&2; exit 1; }
done
[ -x /bin/busybox ] || { echo "missing /bin/busybox (apt-get install busybox-static)" >&2; exit 1; }

if [ -z "${BENCH_INNER:-}" ]; then
  [ -x "$BERTH" ] || { echo "build it first: cargo build --release -p berth" >&2; exit 1; }
  OUT=${OUT:-$(mktemp -d /tmp/berth-bench-engine.XXXXXX)}
  export BENCH_INNER=1 OUT BERTH
  exec tini -s -- unshare --net --mount --propagation private "$0" "$@"
fi

ip link set lo up
if [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then umount /sys/fs/cgroup/unified; fi
W=$OUT/work
mkdir -p "$W"
export W
# shellcheck source=tests/interop/podman-env.sh
. tests/interop/podman-env.sh
B=("$BERTH" --root "$W/berth")
DOCKER_CLI=(docker -H "unix://$W/docker/docker.sock")
cleanup() {
  "${B[@]}" ps -aq 2>/dev/null | while read -r id; do "${B[@]}" rm -f "$id" >/dev/null || true; done
  podman rm -af -t 0 >/dev/null 2>&1 || true
  if [ "$DOCKER" = 1 ]; then tests/interop/dockerd.sh stop "$W/docker" >/dev/null 2>&1 || true; fi
  { grep -o " $W[^ ]*" /proc/self/mounts || true; } | sort -r | while read -r m; do umount -l "$m" || true; done
  rm -rf "$W"
}
trap cleanup EXIT

# The image: busybox-static with every applet linked, imported by berth, saved for the others.
R=$W/rootfs
mkdir -p "$R"/{bin,etc,tmp,root,proc,sys,dev}
cp /bin/busybox "$R/bin/busybox"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$R/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$R/etc/passwd"
tar -C "$R" -cf "$W/busybox.tar" .
"${B[@]}" import -c 'CMD ["sh"]' "$W/busybox.tar" busybox >/dev/null
"${B[@]}" save --format docker-archive -o "$W/busybox.docker.tar" busybox
podman load -q -i "$W/busybox.docker.tar" >/dev/null
IMG=localhost/busybox:latest
names=(berth podman-runc podman-crun)
cmds=("${B[*]} run --rm busybox true"
  "podman run --rm --network none --runtime runc $IMG true"
  "podman run --rm --network none --runtime crun $IMG true")
if [ "$DOCKER" = 1 ]; then
  tests/interop/dockerd.sh start "$W/docker" "$(command -v runc)" >/dev/null
  "${DOCKER_CLI[@]}" load -q -i "$W/busybox.docker.tar" >/dev/null
  names+=(docker-runc)
  cmds+=("${DOCKER_CLI[*]} run --rm --network none $IMG true")
fi
for c in "${cmds[@]}"; do $c >/dev/null || { echo "failed: $c" >&2; exit 1; }; done

args=()
for i in "${!names[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
hyperfine -N --warmup "$WARMUP" --runs "$RUNS" --style basic --export-json "$OUT/run.json" "${args[@]}"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

rss() { # peak %M over RSS_SAMPLES runs of a command line
  local max=0 m
  for _ in $(seq "$RSS_SAMPLES"); do
    /usr/bin/time -f %M -o "$OUT/rss" $1 >/dev/null 2>&1
    m=$(tail -1 "$OUT/rss")
    [ "$m" -gt "$max" ] && max=$m
  done
  echo "$max"
}
{
  echo "| engine | median ms | min ms | max ms | median vs berth | peak RSS KiB |"
  echo "|---|---|---|---|---|---|"
  base=$(jq '.results[0].median' "$OUT/run.json")
  for i in "${!names[@]}"; do
    jq -r --argjson i "$i" --argjson base "$base" --arg rss "$(rss "${cmds[$i]}")" '.results[$i] |
      "| \(.command) | \(.median*1000|round) | \(.min*1000|round) | \(.max*1000|round) | \(.median/$base*100|round/100) | \($rss) |"' \
      "$OUT/run.json"
  done
  if [ "$DOCKER" = 1 ]; then
    for p in dockerd containerd; do
      pid=$(pgrep -n -x "$p") && echo "$p VmHWM: $(awk '/VmHWM/{print $2, $3}' "/proc/$pid/status")"
    done
  fi
} | tee "$OUT/summary.md"
