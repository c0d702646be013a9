#!/usr/bin/env bash
# bench/build.sh — `berth build` beside `buildah bud` and `docker build` (DOCKER=1), the same
# multi-stage Dockerfile and context, in one run (as root):
#
#   cargo build --release -p berth && bench/build.sh
#
#   cold     every tool's build cache empty (the base image kept)
#   rebuild  after a one-line change in a file the Dockerfile copies: the steps before the
#            COPY come from the cache, the rest run again
#
# The Dockerfile (16 steps, two stages): the first stage writes FILES small files in one
# RUN and counts them in another; the second copies them and the count from it, copies the
# sources (the changed file among them), runs a step over them, and sets config. Every RUN
# has --network none. buildah runs with --layers (its cache) on overlay; docker is Debian's
# dockerd (classic builder, overlay2) from tests/interop/dockerd.sh.
#
# The base image is Debian's busybox-static imported by berth, saved, and loaded by the
# others. Every store is on one ext4 made here with a journal on a loop device (this host's
# root has none; see docs/BENCHMARKS.md), in a private mount and network namespace.
# Peak RSS: GNU time's %M of one cold build (berth and buildah do the work in the process
# timed; docker's work is in dockerd, whose VmHWM is printed instead).
#
# Environment: RUNS=5 FILES=3000 DOCKER=0|1 BERTH=target/release/berth
# Output: hyperfine's tables, then summary.md, build.dat and the chart build.svg in $OUT
# (default a fresh /tmp/berth-bench-build.XXXXXX, kept).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
FILES=${FILES:-3000}
DOCKER=${DOCKER:-0}
BERTH=$(readlink -f "${BERTH:-target/release/berth}")
for t in hyperfine buildah gnuplot tini unshare /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "missing $t (see .ci/packages)" >&2; exit 1; }
done
if [ -z "${BENCH_INNER:-}" ]; then
  [ -x "$BERTH" ] || { echo "build it first: cargo build --release -p berth" >&2; exit 1; }
  OUT=${OUT:-$(mktemp -d /tmp/berth-bench-build.XXXXXX)}
  export BENCH_INNER=1 OUT BERTH
  exec tini -s -- unshare --net --mount --propagation private "$0" "$@"
fi

ip link set lo up
W=$OUT/work
mkdir -p "$W"
truncate -s 16G "$OUT/fs.img" && mkfs.ext4 -q -F "$OUT/fs.img" && mount -o loop "$OUT/fs.img" "$W"
DOCKER_CLI=(docker -H "unix://$W/docker/docker.sock")
# buildah reads $DOCKER_CONFIG too, and fails when it has no config.json.
export DOCKER_CONFIG=$W/docker/client
mkdir -p "$DOCKER_CONFIG" && echo '{}' >"$DOCKER_CONFIG/config.json"
cleanup() {
  if [ "$DOCKER" = 1 ]; then tests/interop/dockerd.sh stop "$W/docker" >/dev/null 2>&1 || true; fi
  { grep -o " $W[^ ]*" /proc/self/mounts || true; } | sort -r | while read -r m; do umount -l "$m" || true; done
  rm -rf "$W" "$OUT/fs.img"
}
trap cleanup EXIT

# The base image.
# shellcheck source=bench/lib.sh
. bench/lib.sh
R=$W/rootfs
busybox_rootfs "$R"
tar -C "$R" -cf "$W/busybox.tar" .
B=("$BERTH" --root "$W/berth")
"${B[@]}" import -c 'CMD ["sh"]' "$W/busybox.tar" busybox >/dev/null
"${B[@]}" save --format oci-archive -o "$W/busybox.oci.tar" busybox
"${B[@]}" save --format docker-archive -o "$W/busybox.docker.tar" busybox
export BUILDAH_ISOLATION=chroot
BU=(buildah --root "$W/buildah/root" --runroot "$W/buildah/run" --storage-driver overlay)
"${BU[@]}" pull -q "oci-archive:$W/busybox.oci.tar" >/dev/null
"${BU[@]}" tag "$("${BU[@]}" images -q | head -1)" localhost/busybox:latest
if [ "$DOCKER" = 1 ]; then
  tests/interop/dockerd.sh start "$W/docker" "$(command -v runc)" >/dev/null
  "${DOCKER_CLI[@]}" load -q -i "$W/busybox.docker.tar" >/dev/null
  "${DOCKER_CLI[@]}" tag localhost/busybox:latest busybox:latest
fi

# The context.
C=$W/ctx
mkdir -p "$C/app"
cat >"$C/gen.sh" <<'EOF'
n=$1; mkdir -p /data
i=0; while [ $i -lt $n ]; do d=/data/d$((i % 50)); mkdir -p $d; echo "file $i" > $d/f$i; i=$((i + 1)); done
EOF
for i in $(seq 20); do seq "$i" 200 >"$C/app/src$i.txt"; done
echo "line 1" >"$C/app/main.txt"
cat >"$C/Dockerfile" <<EOF
FROM busybox AS gen
WORKDIR /src
COPY gen.sh .
RUN sh gen.sh $FILES
RUN find /data -type f | wc -l > /count

FROM busybox
ENV APP=/app
WORKDIR /app
COPY --from=gen /data ./data/
COPY --from=gen /count ./
COPY app/ ./
RUN cat main.txt src*.txt | wc -l > built.txt
LABEL bench=build
EXPOSE 8080
USER nobody
CMD ["cat", "built.txt"]
EOF

names=(berth buildah)
builds=("${B[*]} build -q --network none -t bench $C"
  "${BU[*]} bud -q --layers --network none -t bench $C")
cold=("${B[*]} builder prune -f"
  "sh -c '${BU[*]} rmi -f bench; ${BU[*]} rmi --prune'")
if [ "$DOCKER" = 1 ]; then
  names+=(docker)
  builds+=("${DOCKER_CLI[*]} build -q --network none -t bench $C")
  cold+=("sh -c '${DOCKER_CLI[*]} rmi -f bench; ${DOCKER_CLI[*]} image prune -f; ${DOCKER_CLI[*]} builder prune -af'")
fi
change="sed -i '1s/.*/line \$(date +%s%N)/' $C/app/main.txt"
for b in "${builds[@]}"; do sh -c "$b" >/dev/null || { echo "failed: $b" >&2; exit 1; }; done
[ "$("${B[@]}" run --rm --network none bench)" = "$(seq 20 | awk '{s += 201 - $1} END {print s + 1}')" ] ||
  { echo "the built image does not run as expected" >&2; exit 1; }

args_cold=() args_re=()
for i in "${!names[@]}"; do
  args_cold+=(-n "${names[$i]}" --prepare "sh -c \"${cold[$i]//\"/\\\"} >/dev/null 2>&1; sync\"" "${builds[$i]}")
  args_re+=(-n "${names[$i]}" --prepare "sh -c \"$change; sync\"" "${builds[$i]}")
done
echo "== cold; load before: $(cat /proc/loadavg)"
hyperfine --runs "$RUNS" --style basic --export-json "$OUT/cold.json" "${args_cold[@]}"
echo "== rebuild after a one-line change; load before: $(cat /proc/loadavg)"
hyperfine --warmup 1 --runs "$RUNS" --style basic --export-json "$OUT/rebuild.json" "${args_re[@]}"
echo "load after: $(cat /proc/loadavg)"

# Peak RSS of one cold build each.
rss=()
for i in "${!names[@]}"; do
  sh -c "${cold[$i]}" >/dev/null 2>&1
  if [ "${names[$i]}" = docker ]; then
    sh -c "${builds[$i]}" >/dev/null
    rss+=("dockerd $(awk '/VmHWM/{print $2}' "/proc/$(cat "$W/docker/dockerd.pid")/status")")
  else
    rss+=("$(/usr/bin/time -f %M sh -c "${builds[$i]} >/dev/null" 2>&1 | tail -1)")
  fi
done
printf '%s\n' "${rss[@]}" >"$OUT/rss.txt"

python3 - "$OUT" "${names[@]}" <<'PY'
import json, sys
out, names = sys.argv[1], sys.argv[2:]
rss = open(f"{out}/rss.txt").read().splitlines()
res = {k: {r["command"]: r for r in json.load(open(f"{out}/{k}.json"))["results"]} for k in ("cold", "rebuild")}
lines = ["| tool | cold median (s) | min–max | vs buildah | rebuild median (s) | min–max | vs buildah cold | vs buildah rebuild | peak RSS (KiB) |",
         "|---|---|---|---|---|---|---|---|---|"]
bc, br = res["cold"]["buildah"]["median"], res["rebuild"]["buildah"]["median"]
for n, r in zip(names, rss):
    c, b = res["cold"][n], res["rebuild"][n]
    lines.append(f"| {n} | {c['median']:.3f} | {c['min']:.3f}–{c['max']:.3f} | {c['median'] / bc:.2f} | "
                 f"{b['median']:.3f} | {b['min']:.3f}–{b['max']:.3f} | {b['median'] / bc:.2f} | {b['median'] / br:.2f} | {r} |")
open(f"{out}/summary.md", "w").write("\n".join(lines) + "\n")
open(f"{out}/build.dat", "w").write("".join(f"{n} {res['cold'][n]['median']:.3f} {res['rebuild'][n]['median']:.3f}\n" for n in names))
print("\n".join(lines))
PY
gnuplot <<EOF
$(chart_preamble "$OUT/build.svg" 640 420 1)
set title "Multi-stage build, median s (lower is better)"
set ylabel "seconds"
plot "$OUT/build.dat" using 2:xtic(1) title "cold", '' using 3 title "rebuild after a one-line change"
EOF
echo "summary: $OUT/summary.md, chart: $OUT/build.svg"
