#!/usr/bin/env bash
# bench/rootless.sh — `run --rm busybox true` as an ordinary user: rootless berth with no
# network and on its default rootless network (pasta), against berth as root (no network),
# in one run (started as root: it makes the user with useradd and runs the rootless cases as
# that user). Rootless podman is not in it yet: inside this script's namespaces each of its
# runs waits 20 s for conmon (docs/BENCHMARKS.md, "Rootless").
#
#   cargo build --release -p berth && RUNS=30 bench/rootless.sh
#
# It runs in a network and mount namespace of its own whose bridge plays the host's
# interface (pasta and slirp4netns copy its address and route), on an ext4 of its own.
# /dev/net/tun is made 0666 as udev does on a normal system (this host has no udev).
# Environment: RUNS=30 WARMUP=5 BERTH=target/release/berth. Output: hyperfine's table,
# then summary.md (medians, ratios to root, peak RSS) and rootless.svg in $OUT (default a
# fresh /tmp/berth-bench-rootless.XXXXXX, kept).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-30}
WARMUP=${WARMUP:-5}
BERTH=$(readlink -f "${BERTH:-target/release/berth}")
USER_NAME=berth-bench
for t in hyperfine jq pasta newuidmap gnuplot tini unshare runuser /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "missing $t (see .ci/packages)" >&2; exit 1; }
done
if [ -z "${BENCH_INNER:-}" ]; then
  [ -x "$BERTH" ] || { echo "build it first: cargo build --release -p berth" >&2; exit 1; }
  OUT=${OUT:-$(mktemp -d /tmp/berth-bench-rootless.XXXXXX)}
  export BENCH_INNER=1 OUT BERTH
  exec tini -s -- unshare --net --mount --propagation private "$0" "$@"
fi

# shellcheck source=bench/lib.sh
. bench/lib.sh
private_work_dir
for a in "link add br0 type bridge" "addr add 192.0.2.1/24 dev br0" "link set br0 up" \
  "route add default via 192.0.2.254 dev br0 onlink" "link add hv0 type veth peer name hv1" \
  "link set hv0 master br0 up" "link set hv1 up"; do
  # shellcheck disable=SC2086
  ip $a
done
id "$USER_NAME" >/dev/null 2>&1 || useradd -m "$USER_NAME"
chmod 0666 /dev/net/tun
H=$W/home
mkdir -p "$H/run" "$H/config"
chmod 0700 "$H/run"
cp "$BERTH" "$(dirname "$BERTH")/berth-monitor" "$W/"
BERTH=$W/berth
cat >"$H/env" <<EOF
export HOME=$H XDG_RUNTIME_DIR=$H/run XDG_DATA_HOME=$H/data XDG_CONFIG_HOME=$H/config
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
EOF
R=$W/rootfs
busybox_rootfs "$R"
tar -C "$R" -cf "$W/busybox.tar" .
chown -R "$USER_NAME:" "$H" "$OUT"
chmod a+r "$W/busybox.tar"
as_user() { runuser -u "$USER_NAME" -- bash -c ". $H/env; cd $H; $1"; }
cleanup() {
  as_user "$BERTH ps -aq | xargs -r $BERTH rm -f; $BERTH unshare rm -rf $H/data" >/dev/null 2>&1 || true
  "$BERTH" --root "$W/root" ps -aq | xargs -r "$BERTH" --root "$W/root" rm -f >/dev/null 2>&1 || true
  pkill -KILL -u "$USER_NAME" 2>/dev/null || true
  sleep 0.2
  { grep -o " $W[^ ]*" /proc/self/mounts || true; } | sort -r | while read -r m; do umount -l "$m" || true; done
  rm -rf "$W" "$OUT/fs.img"
}
trap cleanup EXIT

as_user "$BERTH import -c 'CMD [\"sh\"]' $W/busybox.tar busybox >/dev/null"
"$BERTH" --root "$W/root" import -c 'CMD ["sh"]' "$W/busybox.tar" busybox >/dev/null

names=(rootless-none rootless-pasta root-none)
cmds=(
  "$BERTH run --rm --network none busybox true"
  "$BERTH run --rm busybox true"
  "$BERTH --root $W/root run --rm --network none busybox true"
)
for c in "${cmds[@]:0:2}"; do
  as_user "$c" >/dev/null || { echo "failed: $c" >&2; exit 1; }
done
${cmds[2]} >/dev/null || { echo "failed: ${cmds[2]}" >&2; exit 1; }
# The pasta case really has a network: an address besides loopback.
as_user "${cmds[1]% true} ip -4 addr" | grep -q 'inet .* scope global' || { echo "pasta: no network" >&2; exit 1; }

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/load"
# The rootless cases run under a hyperfine started as the user (runuser around each run
# would add its own cost); root's case in a hyperfine run of its own, right after.
args=""
for i in 0 1; do args+=" -n ${names[$i]} '${cmds[$i]}'"; done
as_user "hyperfine -N --warmup $WARMUP --runs $RUNS --style basic --export-json $OUT/run.json $args"
hyperfine -N --warmup "$WARMUP" --runs "$RUNS" --style basic --export-json "$OUT/root.json" -n "${names[2]}" "${cmds[2]}"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/load"

rss() { # peak %M (KiB) over 10 runs of a command line, as the user
  as_user "max=0; for _ in \$(seq 10); do /usr/bin/time -f %M -o $OUT/rss $1 >/dev/null 2>&1; m=\$(tail -1 $OUT/rss); [ \$m -gt \$max ] && max=\$m; done; echo \$max"
}
ms() { jq --argjson i "$2" '.results[$i].median * 1000 * 100 | round / 100' "$OUT/$1.json"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
{
  echo "| case | median ms | / root's none | peak RSS KiB |"
  echo "|---|---|---|---|"
  echo "| root, \`--network none\` | $(ms root 0) | 1 | |"
  echo "| rootless, \`--network none\` | $(ms run 0) | $(ratio "$(ms run 0)" "$(ms root 0)") | $(rss "${cmds[0]}") |"
  echo "| rootless, pasta (the default) | $(ms run 1) | $(ratio "$(ms run 1)" "$(ms root 0)") | $(rss "${cmds[1]}") |"
} | tee "$OUT/summary.md"

{
  echo "case ms"
  echo "\"root none\" $(ms root 0)"
  echo "\"rootless none\" $(ms run 0)"
  echo "\"rootless pasta\" $(ms run 1)"
} >"$OUT/rootless.dat"
{
  chart_preamble "$OUT/rootless.svg" 600 400 1
  echo 'set title "run --rm busybox true: median ms"'
  echo "plot '$OUT/rootless.dat' using 2:xtic(1) title 'berth'"
  echo 'unset multiplot'
} | gnuplot
echo "$OUT/summary.md $OUT/rootless.svg"
