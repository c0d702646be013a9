#!/usr/bin/env bash
# bench/runtime.sh — container lifecycle of berth-runtime, runc and crun, measured the same
# way in one run (hyperfine), plus the peak RSS of each runtime process.
#
#   cargo build --release -p berth-runtime && bench/runtime.sh            (as root)
#   LIMITS=1 bench/runtime.sh        the same with memory, pids and cpu limits in the config
#   SECCOMP=1 bench/runtime.sh       the same with berth's default seccomp profile in the config
#                                    (every runtime loads the same profile)
#   USERNS=1 bench/runtime.sh        the same in a user namespace (container root = host uid
#                                    100000, 65536 ids), where the runtimes cannot mknod /dev
#   SYSTEMD_CGROUP=1 bench/runtime.sh  every runtime with --systemd-cgroup (a transient scope
#                                    per container, made over D-Bus); needs systemd as PID 1:
#                                    bench/runtime-systemd.sh runs it in the VM that boots it
#
# Per runtime, on one busybox bundle running /bin/true (config from `runc spec`, terminal off):
#   lifecycle  RT create --pid-file F ID && RT start ID && <spin until the init is gone> &&
#              RT delete ID — what a shim does. (Not `start; delete -f`: runc's delete -f
#              polls in 100 ms steps when the container has not exited yet.)
#   run        RT run ID in the foreground.
#   RSS        peak RSS (GNU time %M, KiB) of `RT create` and of `RT run`: the runtime process
#              and the helpers it waits for, not the container init that create leaves behind.
# Every iteration uses a fresh id and cleans up; each runtime has its own --root.
#
# Environment: RUNS=30 WARMUP=5 RSS_SAMPLES=10 LIMITS=0|1 SECCOMP=0|1 USERNS=0|1
#   BERTH_RUNTIME=target/release/berth-runtime  RUNTIMES="berth=$BERTH_RUNTIME runc crun"
#   CGROUP_NS=auto|host|legacy: on a hybrid host whose /sys/fs/cgroup/unified has controllers,
#     crun 1.8 refuses to start, so `auto` runs everything (all runtimes alike) in a private
#     mount namespace with that mount removed: the runtimes see plain cgroup v1.
# Everything runs under a subreaper (tini -s), so the inits left by `create` are reaped
# even where PID 1 does not reap orphans. Results: summary.md, summary.json and a chart,
# runtime.svg (gnuplot), in $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
self=$ROOT/bench/runtime.sh
RUNS=${RUNS:-30}
WARMUP=${WARMUP:-5}
RSS_SAMPLES=${RSS_SAMPLES:-10}
LIMITS=${LIMITS:-0}
SECCOMP=${SECCOMP:-0}
USERNS=${USERNS:-0}
SYSTEMD_CGROUP=${SYSTEMD_CGROUP:-0}
SD_FLAG=
if [ "$SYSTEMD_CGROUP" = 1 ]; then
  [ -d /run/systemd/system ] || { echo "SYSTEMD_CGROUP=1 needs systemd as PID 1 (bench/runtime-systemd.sh)" >&2; exit 1; }
  SD_FLAG=--systemd-cgroup
fi
CGROUP_NS=${CGROUP_NS:-auto}
BERTH_RUNTIME=${BERTH_RUNTIME:-$ROOT/target/release/berth-runtime}
RUNTIMES=${RUNTIMES:-berth=$BERTH_RUNTIME runc crun}

for t in hyperfine jq tini /usr/bin/time unshare runc; do
  command -v "$t" >/dev/null || { echo "missing $t (apt-get install -y hyperfine jq time util-linux tini runc crun)" >&2; exit 1; }
done
[ -x /bin/busybox ] || { echo "missing /bin/busybox (apt-get install -y busybox-static)" >&2; exit 1; }


# Stage 0: re-exec under the subreaper, in a private mount namespace when crun needs one.
if [ -z "${BENCH_INNER:-}" ]; then
  mode=host
  hybrid=0
  [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ] &&
    [ -n "$(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null)" ] && hybrid=1
  if [ "$CGROUP_NS" = legacy ] || { [ "$CGROUP_NS" = auto ] && [ $hybrid = 1 ]; }; then mode=legacy-ns; fi
  export BENCH_INNER=$mode
  if [ $mode = legacy-ns ]; then
    exec tini -s -- unshare -m --propagation private bash "$self" "$@"
  fi
  exec tini -s -- bash "$self" "$@"
fi
[ "$BENCH_INNER" = legacy-ns ] && umount /sys/fs/cgroup/unified

W=$(mktemp -d /tmp/berth-bench-runtime.XXXXXX)
OUT=${OUT:-$W/results}
mkdir -p "$OUT" "$W/state"
cleanup_rt() { # RT ROOT: delete what a failed step left, so no container or cgroup stays
  local id
  for id in $("$1" --root "$2" list -q 2>/dev/null); do "$1" $SD_FLAG --root "$2" delete -f "$id" >/dev/null 2>&1 || true; done
}
cleanup() {
  local f
  for f in "$W"/state/*.rt; do [ -e "$f" ] && cleanup_rt "$(cat "$f")" "${f%.rt}"; done
  rm -rf "$W/bundle" "$W/state"
}
trap cleanup EXIT

# The bundle: static busybox and its applets, `runc spec` with terminal off, /bin/true.
B=$W/bundle
mkdir -p "$B"/rootfs/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root,var,run}
cp /bin/busybox "$B/rootfs/bin/busybox"
for a in $(/bin/busybox --list-full); do [ "$a" = bin/busybox ] || ln -sf /bin/busybox "$B/rootfs/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$B/rootfs/etc/passwd"
(cd "$B" && runc spec)
limits='{}'
[ "$LIMITS" = 1 ] && limits='{"memory":{"limit":268435456},"pids":{"limit":128},"cpu":{"shares":512,"quota":50000,"period":100000}}'
jq --argjson l "$limits" '.process.terminal = false | .process.args = ["/bin/true"]
  | .linux.resources += $l' "$B/config.json" >"$B/config.json.new"
mv "$B/config.json.new" "$B/config.json"
if [ "$USERNS" = 1 ]; then
  # The mapped root must reach the rootfs through $W (mktemp makes it 0700).
  chmod 755 "$W"
  jq '.linux.namespaces += [{"type":"user"}]
    | .linux.uidMappings = [{"containerID":0,"hostID":100000,"size":65536}]
    | .linux.gidMappings = [{"containerID":0,"hostID":100000,"size":65536}]' "$B/config.json" >"$B/config.json.new"
  mv "$B/config.json.new" "$B/config.json"
fi
if [ "$SECCOMP" = 1 ]; then
  # berth's default profile, as `berth-runtime spec` writes it, for all runtimes alike.
  S=$(mktemp -d)
  "$BERTH_RUNTIME" spec --bundle "$S" >/dev/null
  jq --slurpfile s <(jq .linux.seccomp "$S/config.json") '.linux.seccomp = $s[0]' "$B/config.json" >"$B/config.json.new"
  mv "$B/config.json.new" "$B/config.json"
  rm -rf "$S"
fi

median() { sort -n | awk '{a[NR]=$1} END{ if(NR==0){print "null"} else if(NR%2){print a[(NR+1)/2]} else {print (a[NR/2]+a[NR/2+1])/2} }'; }
failed() { # LABEL VERSION WHAT
  results=$(jq --arg l "$1" --arg v "$2" --arg e "$3" '. + [{label:$l, version:$v, error:$e}]' <<<"$results")
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
echo "# mode=$BENCH_INNER limits=$LIMITS seccomp=$SECCOMP userns=$USERNS systemd-cgroup=$SYSTEMD_CGROUP runs=$RUNS warmup=$WARMUP load=$load_start" >&2
results='[]'
for spec in $RUNTIMES; do
  if [[ $spec == *=* ]]; then label=${spec%%=*}; rt=${spec#*=}; else label=$spec; rt=$spec; fi
  rt=$(command -v "$rt") || { echo "runtime not found: $spec" >&2; exit 1; }
  root=$W/state/$label
  mkdir -p "$root"
  echo "$rt" >"$root.rt"
  version=$("$rt" --version 2>&1 | head -1 || true)
  if ! "$rt" $SD_FLAG --root "$root" run --bundle "$B" "pre-$$" >"$OUT/$label.preflight.log" 2>&1; then
    echo "!! $label: preflight run failed, see $OUT/$label.preflight.log" >&2
    failed "$label" "$version" "preflight failed"
    continue
  fi
  R="$rt $SD_FLAG --root $root"
  if ! hyperfine --warmup "$WARMUP" --runs "$RUNS" --style basic --export-json "$OUT/$label.lifecycle.json" \
    -n "$label lifecycle" \
    "$R create --bundle $B --pid-file $root/lc-\$\$.pid lc-\$\$ && $R start lc-\$\$ && { read p <$root/lc-\$\$.pid || :; } && [ -n \"\$p\" ] && while [ -e /proc/\$p ]; do :; done && $R delete lc-\$\$ && rm -f $root/lc-\$\$.pid" >&2; then
    cleanup_rt "$rt" "$root"
    failed "$label" "$version" "lifecycle failed"
    continue
  fi
  cleanup_rt "$rt" "$root"
  if ! hyperfine --warmup "$WARMUP" --runs "$RUNS" --style basic --export-json "$OUT/$label.run.json" \
    -n "$label run" "$R run --bundle $B run-\$\$" >&2; then
    cleanup_rt "$rt" "$root"
    failed "$label" "$version" "run failed"
    continue
  fi
  cleanup_rt "$rt" "$root"
  : >"$OUT/$label.rss_create"; : >"$OUT/$label.rss_run"
  for n in $(seq "$RSS_SAMPLES"); do
    /usr/bin/time -f %M -o "$W/t" $R create --bundle "$B" "rss-$$-$n" >/dev/null 2>&1
    tail -1 "$W/t" >>"$OUT/$label.rss_create"
    $R delete -f "rss-$$-$n" >/dev/null 2>&1 || true
    /usr/bin/time -f %M -o "$W/t" $R run --bundle "$B" "rssr-$$-$n" >/dev/null 2>&1
    tail -1 "$W/t" >>"$OUT/$label.rss_run"
  done
  cleanup_rt "$rt" "$root"
  results=$(jq --arg l "$label" --arg v "$version" \
    --slurpfile lc "$OUT/$label.lifecycle.json" --slurpfile rn "$OUT/$label.run.json" \
    --argjson rc "$(median <"$OUT/$label.rss_create")" --argjson rr "$(median <"$OUT/$label.rss_run")" '
    def ms(r): {median_ms:(r.median*1000), min_ms:(r.min*1000), stddev_ms:(r.stddev*1000),
                cpu_ms:((r.user+r.system)*1000)};
    . + [{label:$l, version:$v, lifecycle:ms($lc[0].results[0]), run:ms($rn[0].results[0]),
          rss_create_kib:$rc, rss_run_kib:$rr}]' <<<"$results")
done

jq -n --arg mode "$BENCH_INNER" --arg limits "$LIMITS" --arg kernel "$(uname -r)" \
  --arg ls "$load_start" --arg le "$(cut -d' ' -f1-3 /proc/loadavg)" \
  --argjson runs "$RUNS" --argjson r "$results" '
  ($r | map(select(.error | not)) | .[0]) as $base
  | {cgroup_mode:$mode, limits:($limits == "1"), kernel:$kernel, runs:$runs,
     loadavg_start:$ls, loadavg_end:$le, baseline:($base.label // null),
     runtimes:($r | map(if .error or ($base == null) then . else . + {ratio:{
       lifecycle:(.lifecycle.median_ms / $base.lifecycle.median_ms),
       run:(.run.median_ms / $base.run.median_ms),
       rss_create:(.rss_create_kib / $base.rss_create_kib)}} end))}' >"$OUT/summary.json"
{
  echo "cgroups: $BENCH_INNER, systemd driver: $SYSTEMD_CGROUP, limits: $LIMITS, seccomp: $SECCOMP, userns: $USERNS, kernel $(uname -r), $(nproc) CPUs, runs=$RUNS, load $load_start → $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "| runtime | version | lifecycle median ms (min) | run median ms (min) | lifecycle CPU ms | peak RSS create / run KiB | × $(jq -r .baseline "$OUT/summary.json"): lifecycle / run |"
  echo "|---|---|---|---|---|---|---|"
  jq -r 'def r2: .*100|round/100;
    .runtimes[] | if .error then "| \(.label) | \(.version) | \(.error) | | | | |" else
    "| \(.label) | \(.version) | \(.lifecycle.median_ms|r2) (\(.lifecycle.min_ms|r2)) | \(.run.median_ms|r2) (\(.run.min_ms|r2)) | \(.lifecycle.cpu_ms|r2) | \(.rss_create_kib) / \(.rss_run_kib) | \(.ratio.lifecycle|r2) / \(.ratio.run|r2) |" end' "$OUT/summary.json"
} >"$OUT/summary.md"
cat "$OUT/summary.md"

if command -v gnuplot >/dev/null; then
  {
    echo '"runtime" "lifecycle" "run"'
    jq -r '.runtimes[] | select(.error | not) | "\"\(.label)\" \(.lifecycle.median_ms) \(.run.median_ms)"' "$OUT/summary.json"
  } >"$OUT/runtime.dat"
  # shellcheck source=bench/lib.sh
  . "$ROOT/bench/lib.sh"
  driver=cgroupfs; [ "$SYSTEMD_CGROUP" = 1 ] && driver=systemd
  gnuplot <<EOF
$(chart_preamble "$OUT/runtime.svg" 640 360 1)
set title "runtime lifecycle and run, $driver cgroup driver: median ms"
plot for [c=2:3] "$OUT/runtime.dat" using c:xtic(1) title columnheader(c)
unset multiplot
EOF
  echo "chart: $OUT/runtime.svg" >&2
fi
echo "results in $OUT" >&2
