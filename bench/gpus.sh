#!/usr/bin/env bash
# bench/gpus.sh — what a GPU request adds to `run --rm busybox true`, for berth and podman
# (crun), in one run (as root). No GPU here: the NVIDIA driver is the stand-in tree of
# tests/nvidia/fake-driver.sh (two GPUs, their nodes, four libraries in an ld.so.cache,
# nvidia-smi), found through NVIDIA_DRIVER_ROOT; its CDI spec is what `berth cdi generate`
# writes from it. Cases:
#
#   none                            no device
#   --gpus all                      berth: the driver found at each run, no spec file
#   --device nvidia.com/gpu=all     berth and podman: the generated spec read from /etc/cdi
#
# podman 4.3 reads CDI specs only from /etc/cdi and /var/run/cdi: inside the script's private
# mount namespace /etc is a copy with cdi/ added, bound over the host's (which is untouched).
#
#   cargo build --release -p berth && RUNS=30 bench/gpus.sh
#
# Environment: RUNS=30 WARMUP=5 BERTH=target/release/berth. Output: hyperfine's table, then
# summary.md (medians, the cost of each case over none, peak RSS) and gpus.svg in $OUT
# (default a fresh /tmp/berth-bench-gpus.XXXXXX, kept).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-30}
WARMUP=${WARMUP:-5}
BERTH=$(readlink -f "${BERTH:-target/release/berth}")
for t in hyperfine jq podman crun gnuplot tini unshare ldconfig cc /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "missing $t (see .ci/packages)" >&2; exit 1; }
done
if [ -z "${BENCH_INNER:-}" ]; then
  [ -x "$BERTH" ] || { echo "build it first: cargo build --release -p berth" >&2; exit 1; }
  OUT=${OUT:-$(mktemp -d /tmp/berth-bench-gpus.XXXXXX)}
  export BENCH_INNER=1 OUT BERTH
  exec tini -s -- unshare --net --mount --propagation private "$0" "$@"
fi

# shellcheck source=bench/lib.sh
. bench/lib.sh
private_work_dir
# shellcheck source=tests/interop/podman-env.sh
. tests/interop/podman-env.sh
B=("$BERTH" --root "$W/berth")
cleanup() {
  for c in "${B[*]}" "podman --runtime crun"; do
    ids=$($c ps -aq 2>/dev/null) || continue
    [ -z "$ids" ] || $c rm -f $ids >/dev/null 2>&1 || true
  done
  { grep -o " $W[^ ]*" /proc/self/mounts || true; } | sort -r | while read -r m; do umount -l "$m" || true; done
  umount -l /etc 2>/dev/null || true
  rm -rf "$W" "$OUT/fs.img"
}
trap cleanup EXIT

R=$W/rootfs
busybox_rootfs "$R"
tar -C "$R" -cf "$W/busybox.tar" .
"${B[@]}" import -c 'CMD ["sh"]' "$W/busybox.tar" busybox >/dev/null
"${B[@]}" save --format docker-archive -o "$W/busybox.docker.tar" busybox
podman load -q -i "$W/busybox.docker.tar" >/dev/null

tests/nvidia/fake-driver.sh "$W/driver"
export NVIDIA_DRIVER_ROOT=$W/driver
cp -a /etc "$W/etc"
mkdir -p "$W/etc/cdi"
"${B[@]}" cdi generate -o "$W/etc/cdi/nvidia.yaml"
mount --bind "$W/etc" /etc

P="podman --runtime crun"
names=(berth berth-gpus berth-cdi podman podman-cdi)
cmds=(
  "${B[*]} run --rm --network none busybox true"
  "${B[*]} run --rm --network none --gpus all busybox true"
  "${B[*]} run --rm --network none --device nvidia.com/gpu=all busybox true"
  "$P run --rm --network none localhost/busybox true"
  "$P run --rm --network none --device nvidia.com/gpu=all localhost/busybox true"
)
# Each must work, and the GPU cases must see both stand-in GPUs.
for i in "${!cmds[@]}"; do
  ${cmds[$i]} >/dev/null || { echo "failed: ${cmds[$i]}" >&2; exit 1; }
done
for c in "${cmds[1]}" "${cmds[2]}" "${cmds[4]}"; do
  seen=$(${c% true} ls /dev | grep -c '^nvidia[0-9]')
  [ "$seen" = 2 ] || { echo "$c: $seen GPUs in the container" >&2; exit 1; }
done

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/load"
args=()
for i in "${!names[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
hyperfine -N --warmup "$WARMUP" --runs "$RUNS" --style basic --export-json "$OUT/run.json" "${args[@]}"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/load"

rss() { # peak %M (KiB) over 10 runs of a command line
  local max=0 m
  for _ in $(seq 10); do
    /usr/bin/time -f %M -o "$OUT/rss" $1 >/dev/null 2>&1
    m=$(tail -1 "$OUT/rss")
    [ "$m" -gt "$max" ] && max=$m
  done
  echo "$max"
}
ms() { jq --argjson i "$1" '.results[$i].median * 1000 * 100 | round / 100' "$OUT/run.json"; }
{
  echo "| case | berth median ms | over none | podman (crun) median ms | over none | berth peak RSS KiB | podman peak RSS KiB |"
  echo "|---|---|---|---|---|---|---|"
  over() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%+.2f", a - b}'; }
  echo "| none | $(ms 0) | | $(ms 3) | | $(rss "${cmds[0]}") | $(rss "${cmds[3]}") |"
  echo "| \`--gpus all\` (berth finds the driver) | $(ms 1) | $(over "$(ms 1)" "$(ms 0)") | (needs the toolkit) | | $(rss "${cmds[1]}") | |"
  echo "| \`--device nvidia.com/gpu=all\` (CDI spec file) | $(ms 2) | $(over "$(ms 2)" "$(ms 0)") | $(ms 4) | $(over "$(ms 4)" "$(ms 3)") | $(rss "${cmds[2]}") | $(rss "${cmds[4]}") |"
} | tee "$OUT/summary.md"

{
  echo "case berth podman"
  echo "\"none\" $(ms 0) $(ms 3)"
  echo "\"--gpus all\" $(ms 1) NaN"
  echo "\"--device CDI\" $(ms 2) $(ms 4)"
} >"$OUT/gpus.dat"
{
  chart_preamble "$OUT/gpus.svg" 700 420 1
  echo 'set title "run --rm busybox true with two (stand-in) GPUs: median ms"'
  echo "plot '$OUT/gpus.dat' using 2:xtic(1) title 'berth', '' using 3 title 'podman (crun)'"
  echo 'unset multiplot'
} | gnuplot
echo "$OUT/summary.md $OUT/gpus.svg"
