#!/usr/bin/env bash
# bench/api.sh — the Docker Engine API: the same docker clients driving berth's service
# (`berth system service`), `podman system service` (crun) and dockerd (runc), in one run
# (as root):
#
#   cargo build --release -p berth && bench/api.sh
#
#   docker run --rm --network none busybox true             Debian's docker CLI on each socket
#   docker-compose up -d + down of 3 services               docker-compose 1.29 on each socket
#
# The compose project: a web server with a published port and a volume, a worker, a store on
# the same volume, on the project's own bridge network (each engine's own: berth's bridge,
# podman's CNI, dockerd's docker-proxy). The services end on SIGTERM, so `down` measures the
# engines, not stop timeouts.
#
# The image is made once from Debian's busybox-static (`berth import`), then `berth save` →
# `podman load` / `docker load`: every engine runs the same layer and config. podman and
# dockerd use the interop tests' private set-ups (tests/interop/). Everything runs in a private
# mount and network namespace under a subreaper; /sys/fs/cgroup/unified is unmounted there
# when it is cgroup2 (crun 1.8 refuses hybrid hosts whose cgroup2 has controllers).
#
# Environment: RUNS=20 WARMUP=3 COMPOSE_RUNS=10 BERTH=target/release/berth
# Output: hyperfine's tables, then summary.md (medians, ratios, the services' peak RSS), the
# numbers (api.dat) and the chart (api.svg, copied to docs/api-bench.svg) in $OUT (default a
# fresh /tmp/berth-bench-api.XXXXXX, kept).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-20}
WARMUP=${WARMUP:-3}
COMPOSE_RUNS=${COMPOSE_RUNS:-10}
BERTH=$(readlink -f "${BERTH:-target/release/berth}")
for t in hyperfine jq podman crun runc dockerd docker-compose gnuplot tini unshare; do
  command -v "$t" >/dev/null || { echo "missing $t (see .ci/packages)" >&2; exit 1; }
done
[ -x /usr/bin/docker ] || { echo "missing /usr/bin/docker (apt-get install docker.io)" >&2; exit 1; }
[ -x /bin/busybox ] || { echo "missing /bin/busybox (apt-get install busybox-static)" >&2; exit 1; }

if [ -z "${BENCH_INNER:-}" ]; then
  [ -x "$BERTH" ] || { echo "build it first: cargo build --release -p berth" >&2; exit 1; }
  OUT=${OUT:-$(mktemp -d /tmp/berth-bench-api.XXXXXX)}
  export BENCH_INNER=1 OUT BERTH
  exec tini -s -- unshare --net --mount --propagation private "$0" "$@"
fi

# shellcheck source=bench/lib.sh
. bench/lib.sh
# Every engine's store on one journaled ext4 made here.
private_work_dir
# shellcheck source=tests/interop/podman-env.sh
. tests/interop/podman-env.sh
names=(berth podman dockerd)
socks=("$W/berth.sock" "$W/podman.sock" "$W/docker/docker.sock")
pids=()
cleanup() {
  for s in "${socks[@]}"; do
    ids=$(DOCKER_HOST=unix://$s /usr/bin/docker ps -aq 2>/dev/null) || continue
    [ -z "$ids" ] || DOCKER_HOST=unix://$s /usr/bin/docker rm -f $ids >/dev/null 2>&1 || true
  done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  tests/interop/dockerd.sh stop "$W/docker" >/dev/null 2>&1 || true
  sleep 1
  { grep -o " $W[^ ]*" /proc/self/mounts || true; } | sort -r | while read -r m; do umount -l "$m" || true; done
  rm -rf "$W" "$OUT/fs.img"
}
trap cleanup EXIT

R=$W/rootfs
busybox_rootfs "$R" data
tar -C "$R" -cf "$W/busybox.tar" .
B=("$BERTH" --root "$W/berth")
"${B[@]}" import -c 'CMD ["sh"]' "$W/busybox.tar" busybox >/dev/null
"${B[@]}" save --format docker-archive -o "$W/busybox.docker.tar" busybox
podman load -q -i "$W/busybox.docker.tar" >/dev/null
IMG=localhost/busybox:latest

"${B[@]}" system service --time 0 "unix://${socks[0]}" 2>"$OUT/berth-service.log" &
pids+=($!)
podman --runtime crun system service --time 0 "unix://${socks[1]}" 2>"$OUT/podman-service.log" &
pids+=($!)
tests/interop/dockerd.sh start "$W/docker" "$(command -v runc)" >/dev/null
DOCKER_HOST=unix://${socks[2]} /usr/bin/docker load -q -i "$W/busybox.docker.tar" >/dev/null
for s in "${socks[@]}"; do
  for _ in $(seq 100); do [ -S "$s" ] && break; sleep 0.1; done
done

mkdir -p "$W/project"
cat >"$W/project/docker-compose.yml" <<EOF
version: "3.8"
services:
  web:
    image: $IMG
    command: ["sh", "-c", "trap 'exit 0' TERM; httpd -f -p 8000 -h /data & wait"]
    ports: ["127.0.0.1:18090:8000"]
    volumes: ["store:/data"]
  worker:
    image: $IMG
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]
  store:
    image: $IMG
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]
    volumes: ["store:/data"]
volumes:
  store: {}
EOF
cat >"$W/compose.sh" <<EOF
#!/bin/sh
# compose.sh SOCKET: up -d, then down -v, of the project
set -e
export DOCKER_HOST=unix://\$1
cd $W/project
docker-compose -p bench up -d >/dev/null 2>&1
docker-compose -p bench down -v >/dev/null 2>&1
EOF
run_args=() compose_args=()
for i in "${!names[@]}"; do
  run="env DOCKER_HOST=unix://${socks[$i]} /usr/bin/docker run --rm --network none $IMG true"
  $run >/dev/null || { echo "failed: $run" >&2; exit 1; }
  sh "$W/compose.sh" "${socks[$i]}" || { echo "failed: compose on ${names[$i]}" >&2; exit 1; }
  run_args+=(-n "${names[$i]}" "$run")
  compose_args+=(-n "${names[$i]}" "sh $W/compose.sh ${socks[$i]}")
done

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/load"
hyperfine -N --style basic --warmup "$WARMUP" --runs "$RUNS" --export-json "$OUT/run.json" "${run_args[@]}"
hyperfine -N --style basic --warmup 1 --runs "$COMPOSE_RUNS" --export-json "$OUT/compose.json" "${compose_args[@]}"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/load"

hwm() { awk '$1 == "VmHWM:" {print $2}' "/proc/$1/status"; } # PID → peak RSS KiB
dockerd_pid=$(cat "$W/docker/dockerd.pid")
containerd_pid=$(pgrep -n -x containerd || echo)
rss=("$(hwm "${pids[0]}")" "$(hwm "${pids[1]}")" "$(( $(hwm "$dockerd_pid") + ${containerd_pid:+$(hwm "$containerd_pid")} + 0 ))")
ms() { jq --argjson i "$2" '.results[$i].median * 1000 * 10 | round / 10' "$OUT/$1.json"; } # JSON INDEX
{
  echo "op ${names[*]}"
  printf '"docker run --rm true"'; for i in "${!names[@]}"; do printf ' %s' "$(ms run "$i")"; done; echo
  printf '"compose up -d + down (3 services)"'; for i in "${!names[@]}"; do printf ' %s' "$(ms compose "$i")"; done; echo
} >"$OUT/api.dat"
{
  echo "| through the API (median ms) | berth | podman | dockerd | berth / dockerd | berth / podman (goal ≤ 0.25 of both) |"
  echo "|---|---|---|---|---|---|"
  tail -n +2 "$OUT/api.dat" | awk -F'" ' '{gsub(/"/, "", $1); split($2, v, " ")
    printf "| %s | %s | %s | %s | %.2f | %.2f |\n", $1, v[1], v[2], v[3], v[1] / v[3], v[1] / v[2]}'
  echo
  echo "| service | peak RSS KiB (VmHWM, after the runs) |"
  echo "|---|---|"
  echo "| berth system service | ${rss[0]} |"
  echo "| podman system service | ${rss[1]} |"
  echo "| dockerd + containerd | ${rss[2]} |"
  echo
  sed 's/^/    /' "$OUT/load"
} | tee "$OUT/summary.md"

gnuplot <<EOF
$(chart_preamble "$OUT/api.svg" 800 360 1)
set logscale y
set yrange [*:*]
set title "the docker clients through each engine's API: median ms (log scale)"
plot for [c=2:4] "$OUT/api.dat" using c:xtic(1) title columnheader(c)
unset multiplot
EOF
cp "$OUT/api.svg" docs/api-bench.svg
echo "chart: $OUT/api.svg (copied to docs/api-bench.svg)"
