#!/usr/bin/env bash
# bench/engine.sh — berth's engine operations beside podman (crun and runc) and docker
# (DOCKER=1), the same image run the same way, in one run (as root):
#
#   scripts/build-static.sh && BERTH=target/static/berth bench/engine.sh     (berth as installed)
#
#   run --rm busybox true                      all engines in one hyperfine run
#   20 × run -d, then 20 × stop, then 20 × rm  one batch a hyperfine run (BATCH_RUNS of them)
#   exec CONTAINER true                        with 20 containers running
#   stats --no-stream                          with 20 running
#   ps                                         with 100 running
#   the idle RSS and PSS of what attends a detached container: berth's monitor, podman's
#   conmon, docker's containerd-shim-runc-v2 (its nearest equivalent)
#
# Every container runs with --network none. The detached ones run
# `sh -c 'trap "exit 0" TERM; sleep 1000 & wait'`, which ends on the stop signal: a plain
# `sleep` as PID 1 ignores SIGTERM, and `stop` would measure its timeout.
# podman runs as `podman --runtime crun|runc`; docker is Debian's dockerd with runc.
#
# The image is made once from Debian's busybox-static (`berth import` of a rootfs tar), then
# `berth save` → `podman load` / `docker load`: every engine runs the same layer and config.
# podman and dockerd use the interop tests' private set-ups (tests/interop/: own stores,
# cgroupfs, no systemd). Everything runs in a private mount and network namespace under a
# subreaper; /sys/fs/cgroup/unified is unmounted there when it is cgroup2 (crun 1.8 refuses
# hybrid hosts whose cgroup2 has controllers), so every engine sees plain cgroup v1.
#
# Peak RSS of `run --rm`: GNU time's %M (KiB) of the client command over RSS_SAMPLES runs (the
# largest): the client and what it waits for, not podman's conmon or docker's daemons (with
# DOCKER=1 the daemons' VmHWM is printed beside).
#
# Environment: RUNS=30 WARMUP=5 BATCH_RUNS=3 RSS_SAMPLES=10 DOCKER=0|1 BERTH=target/release/berth
#   BERTH_RUNTIME=the berth-runtime beside BERTH
# Output: hyperfine's tables, then summary.md (medians, ratios to podman + crun, RSS), the
# numbers (ops.dat, rss.dat) and the chart (engine.svg) in $OUT (default a fresh
# /tmp/berth-bench-engine.XXXXXX, kept), and berth's monitor's smaps (monitor.smaps).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-30}
WARMUP=${WARMUP:-5}
RSS_SAMPLES=${RSS_SAMPLES:-10}
BATCH_RUNS=${BATCH_RUNS:-3}
DOCKER=${DOCKER:-0}
BERTH=$(readlink -f "${BERTH:-target/release/berth}")
for t in hyperfine jq podman runc crun gnuplot tini unshare pgrep /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "missing $t (see .ci/packages)" >&2; exit 1; }
done
[ -x /bin/busybox ] || { echo "missing /bin/busybox (apt-get install busybox-static)" >&2; exit 1; }

if [ -z "${BENCH_INNER:-}" ]; then
  [ -x "$BERTH" ] || { echo "build it first: cargo build --release -p berth" >&2; exit 1; }
  OUT=${OUT:-$(mktemp -d /tmp/berth-bench-engine.XXXXXX)}
  # The runtime beside berth (target/static/ after scripts/build-static.sh).
  BERTH_RUNTIME=$(readlink -f "${BERTH_RUNTIME:-$(dirname "$BERTH")/berth-runtime}")
  [ -x "$BERTH_RUNTIME" ] || { echo "no berth-runtime beside $BERTH (set BERTH_RUNTIME)" >&2; exit 1; }
  # As installed: with the static berth-monitor beside berth when scripts/build-static.sh
  # made one (else berth's sibling in target/release).
  if [ -x target/static/berth-monitor ]; then
    mkdir -p "$OUT/bin"
    cp "$BERTH" target/static/berth-monitor "$OUT/bin/"
    BERTH=$OUT/bin/berth
  fi
  export BENCH_INNER=1 OUT BERTH BERTH_RUNTIME
  exec tini -s -- unshare --net --mount --propagation private "$0" "$@"
fi

# shellcheck source=bench/lib.sh
. bench/lib.sh
# Every engine's store on one journaled ext4 made here.
private_work_dir
# shellcheck source=tests/interop/podman-env.sh
. tests/interop/podman-env.sh
B=("$BERTH" --root "$W/berth")
DOCKER_CLI=(docker -H "unix://$W/docker/docker.sock")
names=(berth podman-crun podman-runc)
clis=("${B[*]}" "podman --runtime crun" "podman --runtime runc")
if [ "$DOCKER" = 1 ]; then
  names+=(docker)
  clis+=("${DOCKER_CLI[*]}")
fi
remove_all() { # CLI words: removes every container of that engine
  local ids
  ids=$("$@" ps -aq 2>/dev/null) || return 0
  [ -z "$ids" ] || "$@" rm -f $ids >/dev/null 2>&1 || true
}
cleanup() {
  for c in "${clis[@]}"; do remove_all $c; done
  if [ "$DOCKER" = 1 ]; then tests/interop/dockerd.sh stop "$W/docker" >/dev/null 2>&1 || true; fi
  { grep -o " $W[^ ]*" /proc/self/mounts || true; } | sort -r | while read -r m; do umount -l "$m" || true; done
  rm -rf "$W" "$OUT/fs.img"
}
trap cleanup EXIT

# The image: busybox-static with every applet linked, imported by berth, saved for the others.
R=$W/rootfs
busybox_rootfs "$R"
tar -C "$R" -cf "$W/busybox.tar" .
"${B[@]}" import -c 'CMD ["sh"]' "$W/busybox.tar" busybox >/dev/null
"${B[@]}" save --format docker-archive -o "$W/busybox.docker.tar" busybox
podman load -q -i "$W/busybox.docker.tar" >/dev/null
IMG=localhost/busybox:latest
if [ "$DOCKER" = 1 ]; then
  tests/interop/dockerd.sh start "$W/docker" "$(command -v runc)" >/dev/null
  "${DOCKER_CLI[@]}" load -q -i "$W/busybox.docker.tar" >/dev/null
fi
img() { [ "$1" = berth ] && echo busybox || echo "$IMG"; }
cmds=()
for i in "${!names[@]}"; do cmds+=("${clis[$i]} run --rm --network none $(img "${names[$i]}") true"); done
# The engine's own container run by its runtime alone: the config `berth create` generates and
# the overlay it mounts, as a bundle for `berth-runtime run` (timed beside the engines; the
# engine's goal is at most 1.5× this).
cid=$("${B[@]}" create --network none busybox true)
mkdir -p "$W/bundle"
cp "$W/berth/containers/$cid/config.json" "$W/bundle/"
rt_cmd="$BERTH_RUNTIME --root $W/runtime run --bundle $W/bundle bench"
for c in "${cmds[@]}" "$rt_cmd"; do $c >/dev/null || { echo "failed: $c" >&2; exit 1; }; done

# A detached container that ends on SIGTERM (see the top); batch.sh runs the 20-container batch.
cat >"$W/batch.sh" <<'EOF'
#!/bin/sh
# batch.sh IMAGE CLI...: detach IMAGE CLI NAMES... | 20 × run -d, 20 × stop, 20 × rm
set -e
long() { "$@" sh -c 'trap "exit 0" TERM; sleep 1000 & wait' >/dev/null; }
if [ "$1" = detach ]; then
  image=$2 cli=$3
  shift 3
  # shellcheck disable=SC2086 # CLI is a string of words
  for n in "$@"; do long $cli run -d --name "$n" --network none "$image"; done
  exit 0
fi
image=$1
shift
for n in $(seq 20); do long "$@" run -d --name "b$n" --network none "$image"; done
for n in $(seq 20); do "$@" stop "b$n" >/dev/null; done
for n in $(seq 20); do "$@" rm "b$n" >/dev/null; done
EOF
hf() { # JSON-NAME RUNS WARMUP NAME COMMAND
  hyperfine -N --style basic --runs "$2" --warmup "$3" --export-json "$OUT/$1.json" -n "$4" "$5"
}
attendant() { # ENGINE CONTAINER → the pid of what attends it
  case $1 in
    berth) "${B[@]}" inspect "$2" | jq -r '.[0].State.MonitorPid' ;;
    podman-*) podman inspect --format '{{.State.ConmonPid}}' "$2" ;;
    docker) pgrep -f -- "containerd-shim-runc-v2 .*-id $("${DOCKER_CLI[@]}" inspect --format '{{.Id}}' "$2")" ;;
  esac
}
kib() { awk -v k="$2" '$1 == k":" {print $2}' "$1"; } # FILE KEY → its kB figure

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/load"
args=()
for i in "${!names[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
hyperfine -N --warmup "$WARMUP" --runs "$RUNS" --style basic --export-json "$OUT/run.json" "${args[@]}"
# berth and its runtime back to back, apart from the other engines' daemons and cleanups.
hyperfine -N --warmup "$WARMUP" --runs "$RUNS" --style basic --export-json "$OUT/pair.json" \
  -n berth "${cmds[0]}" -n berth-runtime "$rt_cmd"

# Each engine alone: the batch, then 20 running (exec, stats, the attendant's RSS), then 100 (ps).
: >"$OUT/rss.dat"
for i in "${!names[@]}"; do
  e=${names[$i]} cli=${clis[$i]} image=$(img "${names[$i]}")
  hf "batch-$e" "$BATCH_RUNS" 0 "$e" "sh $W/batch.sh $image $cli"
  sh "$W/batch.sh" detach "$image" "$cli" $(seq -f 's%g' 20)
  sleep 1
  pid=$(attendant "$e" s1)
  [ "$e" = berth ] && cp "/proc/$pid/smaps" "$OUT/monitor.smaps"
  pss=$(for n in $(seq 20); do kib "/proc/$(attendant "$e" "s$n")/smaps_rollup" Pss; done | median)
  echo "$e $(cat "/proc/$pid/comm") $(kib "/proc/$pid/status" VmRSS) $(kib "/proc/$pid/smaps_rollup" Pss) $pss" >>"$OUT/rss.dat"
  hf "exec-$e" "$RUNS" 2 "$e" "$cli exec s1 true"
  hf "stats-$e" "$RUNS" 2 "$e" "$cli stats --no-stream"
  sh "$W/batch.sh" detach "$image" "$cli" $(seq -f 's%g' 21 100)
  hf "ps-$e" "$RUNS" 2 "$e" "$cli ps"
  remove_all $cli
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/load"

rss() { # peak %M over RSS_SAMPLES runs of a command line
  local max=0 m
  for _ in $(seq "$RSS_SAMPLES"); do
    /usr/bin/time -f %M -o "$OUT/rss" $1 >/dev/null 2>&1
    m=$(tail -1 "$OUT/rss")
    [ "$m" -gt "$max" ] && max=$m
  done
  echo "$max"
}
ops=(run batch exec stats ps)
labels=("run --rm true" "20 × run -d, stop, rm" "exec true (20 running)" "stats --no-stream (20 running)" "ps (100 running)")
median_ms() { jq '.results[0].median * 1000 * 10 | round / 10' "$OUT/$1.json"; } # JSON-NAME
{
  # ops.dat: an operation a line, the engines' medians (ms) in the columns
  echo "op ${names[*]}"
  for k in "${!ops[@]}"; do
    printf '"%s"' "${labels[$k]}"
    for i in "${!names[@]}"; do
      if [ "${ops[$k]}" = run ]; then
        jq --argjson i "$i" '.results[$i].median * 1000 * 10 | round / 10' "$OUT/run.json"
      else median_ms "${ops[$k]}-${names[$i]}"; fi | sed 's/^/ /' | tr -d '\n'
    done
    echo
  done
} >"$OUT/ops.dat"
{
  echo "| operation (median ms) | $(printf '%s | ' "${names[@]}")berth / podman-crun (goal ≤ 0.25) |"
  echo "|---|$(printf -- '---|%.0s' "${names[@]}")---|"
  tail -n +2 "$OUT/ops.dat" | awk -F'" ' '{gsub(/"/, "", $1); n = split($2, v, " ")
    printf "| %s |", $1; for (j = 1; j <= n; j++) printf " %s |", v[j]; printf " %.2f |\n", v[1] / v[2]}'
  echo
  jq -r '.results[0].median as $e | .results[1].median as $r
    | "berth run --rm: \($e * 10000 | round / 10) ms; berth-runtime run of the same bundle: \($r * 10000 | round / 10) ms; engine / runtime: \($e / $r * 100 | round / 100) (goal ≤ 1.5)"' "$OUT/pair.json"
  echo
  echo "| engine | attends a container | idle VmRSS KiB | Pss KiB | median Pss of 20 KiB | run --rm peak RSS KiB (client) |"
  echo "|---|---|---|---|---|---|"
  for i in "${!names[@]}"; do
    awk -v e="${names[$i]}" -v r="$(rss "${cmds[$i]}")" '$1 == e {printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, r}' "$OUT/rss.dat"
  done
  if [ "$DOCKER" = 1 ]; then
    echo
    for p in dockerd containerd; do
      pid=$(pgrep -n -x "$p") && echo "$p VmHWM: $(kib "/proc/$pid/status" VmHWM) kB"
    done
  fi
  echo
  sed 's/^/    /' "$OUT/load"
} | tee "$OUT/summary.md"

# The chart: the operations' medians (log scale), and the attendants' idle memory.
gnuplot <<EOF
$(chart_preamble "$OUT/engine.svg" 1000 380 2)
set logscale y
set yrange [*:*]
set xtics rotate by -20 font ",9"
set title "median ms (log scale)"
plot for [c=2:$((${#names[@]} + 1))] "$OUT/ops.dat" using c:xtic(1) title columnheader(c)
unset logscale y
set yrange [0:*]
set xtics norotate font ",11"
set title "what attends a detached container: idle KiB"
plot "$OUT/rss.dat" using 3:xtic(1) title "VmRSS", "" using 4 title "Pss", "" using 5 title "median Pss of 20"
unset multiplot
EOF
cp "$OUT/engine.svg" docs/engine-bench.svg
echo "chart: $OUT/engine.svg (copied to docs/engine-bench.svg)"
