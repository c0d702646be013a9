#!/usr/bin/env bash
# bench/runtime-systemd.sh — bench/runtime.sh twice in one boot of the QEMU VM that runs
# systemd as PID 1 (scripts/cgroup2-vm.sh --systemd, cgroup v2 only; this host has no
# systemd): first with each runtime's own cgroupfs driver, then with SYSTEMD_CGROUP=1
# (berth-runtime, runc and crun each with --systemd-cgroup: a transient scope per container,
# made over D-Bus). The VM is emulated (TCG), so its times are several times the host's:
# compare the ratios within one run.
#
#   cargo build --release -p berth-runtime && bench/runtime-systemd.sh      (as root)
#
# Environment: RUNS=20 WARMUP=3 RSS_SAMPLES=5 LIMITS=0|1, BERTH_RUNTIME (as bench/runtime.sh).
# Results in $OUT/{cgroupfs,systemd} (default OUT=target/bench/runtime-systemd, shared into
# the VM); the chart ($OUT/runtime-systemd.svg, both drivers) is copied to
# docs/runtime-systemd-bench.svg.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
OUT=${OUT:-$PWD/target/bench/runtime-systemd}
rm -rf "$OUT/cgroupfs" "$OUT/systemd"
mkdir -p "$OUT"
cat >"$OUT/guest.sh" <<GUEST
#!/bin/bash
set -e
OUT=$OUT/cgroupfs SYSTEMD_CGROUP=0 $PWD/bench/runtime.sh
OUT=$OUT/systemd SYSTEMD_CGROUP=1 $PWD/bench/runtime.sh
GUEST
chmod 755 "$OUT/guest.sh"
scripts/cgroup2-vm.sh --systemd --timeout 2400 --mem 2048 -s "$OUT" \
  -e RUNS="${RUNS:-20}" -e WARMUP="${WARMUP:-3}" -e RSS_SAMPLES="${RSS_SAMPLES:-5}" \
  -e LIMITS="${LIMITS:-0}" -e BERTH_RUNTIME="${BERTH_RUNTIME:-$PWD/target/release/berth-runtime}" \
  "$OUT/guest.sh"
{
  echo '"runtime" "lifecycle, cgroupfs" "lifecycle, systemd" "run, cgroupfs" "run, systemd"'
  jq -r -s '(.[0].runtimes | map({(.label): .}) | add) as $fs | .[1].runtimes[]
    | select(.error | not) | select($fs[.label].error | not)
    | "\"\(.label)\" \($fs[.label].lifecycle.median_ms) \(.lifecycle.median_ms) \($fs[.label].run.median_ms) \(.run.median_ms)"' \
    "$OUT/cgroupfs/summary.json" "$OUT/systemd/summary.json"
} >"$OUT/runtime-systemd.dat"
gnuplot <<EOF
$(chart_preamble "$OUT/runtime-systemd.svg" 760 380 1)
set title "runtime lifecycle and run in the systemd VM (TCG), each cgroup driver: median ms"
plot for [c=2:5] "$OUT/runtime-systemd.dat" using c:xtic(1) title columnheader(c)
unset multiplot
EOF
cp "$OUT/runtime-systemd.svg" docs/runtime-systemd-bench.svg
echo "== cgroupfs"; cat "$OUT/cgroupfs/summary.md"
echo "== systemd"; cat "$OUT/systemd/summary.md"
echo "chart: $OUT/runtime-systemd.svg (copied to docs/runtime-systemd-bench.svg)" >&2
