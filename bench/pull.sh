#!/usr/bin/env bash
# bench/pull.sh — pull + unpack of two images from a local docker-registry, by berth, podman,
# skopeo+umoci and containerd's `ctr pull`, each into an empty store, in one hyperfine run
# per image; then the peak RSS of one run of each:
#   debian:bookworm  Debian bookworm minbase, one 49 MB gzip layer (~6,700 files);
#   debian:multi     the same base and six more layers (bench/layers.py): 5,000 and 2,000
#                    small files, one 40 MiB and twelve 2 MiB files, files of the base
#                    overwritten, whiteouts (single files, a directory, an opaque directory).
#
#   cargo build --release -p berth && bench/pull.sh      (as root; RUNS=10 by default)
#
# Needs: docker-registry, skopeo, umoci, podman, containerd, hyperfine, GNU time, gnuplot,
# and the Debian rootfs tar from tests/registry/debian-rootfs.sh (debootstrap, cached).
#
# Every store (berth's, podman's, skopeo's layout and umoci's bundle, containerd's root)
# lives on one ext4 made by the bench with mkfs's defaults (with a journal) on a loop
# device. This host's root file system is ext4 without a journal, where each new inode
# after a mass delete (the prepare steps' rm) scans the recently deleted ones: runs then
# measured the host's deletion history, 1 to 9 s for the same pull.
# Everything lives in a temporary directory and is stopped and removed on exit, but for
# OUT (default a fresh /tmp/berth-bench-pull.XXXXXX): summary.md and pull.svg.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BERTH=${BERTH:-$ROOT/target/release/berth}
RUNS=${RUNS:-10}
PORT=5120
W=$(mktemp -d /tmp/berth-bench.XXXXXX)
OUT=${OUT:-$(mktemp -d /tmp/berth-bench-pull.XXXXXX)}
REGISTRY=127.0.0.1:$PORT
S=$W/fs
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

truncate -s 16G "$W/fs.img" && mkfs.ext4 -q -F "$W/fs.img"
mkdir "$S" && mount -o loop "$W/fs.img" "$S"

# The images: the base as one gzip layer, as umoci writes it, and the base with six more;
# pushed to a plain-HTTP registry.
umoci init --layout "$W/oci" && umoci new --image "$W/oci:bookworm"
umoci raw add-layer --image "$W/oci:bookworm" "$CACHE"
umoci config --image "$W/oci:bookworm" --os linux --architecture amd64 --config.cmd /bin/bash
mkdir "$W/layers" && python3 bench/layers.py "$W/layers"
umoci tag --image "$W/oci:bookworm" multi
for l in "$W"/layers/*.tar; do umoci raw add-layer --image "$W/oci:multi" "$l"; done
PLAIN_PORT=$PORT BASIC_PORT=5121 TOKENSRV_PORT=5122 TOKEN_PORT=5123 tests/registry/registry.sh start "$W/registry"
for t in bookworm multi; do
  skopeo copy -q --dest-tls-verify=false "oci:$W/oci:$t" "docker://$REGISTRY/debian:$t"
done

# Private podman and containerd.
mkdir -p "$W/podman" "$W/bcfg" "$W/containerd"
printf '[[registry]]\nlocation = "127.0.0.1:%s"\ninsecure = true\n' "$PORT" > "$W/podman/registries.conf"
cp "$W/podman/registries.conf" "$W/bcfg/registries.toml"
export CONTAINERS_REGISTRIES_CONF=$W/podman/registries.conf
PM=(--root "$S/podman/root" --runroot "$W/podman/run" --tmpdir "$S/podman/tmp" --storage-driver overlay)
cat > "$W/containerd/config.toml" <<EOF2
version = 2
root = "$S/containerd/root"
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

# One hyperfine run per image; then the peak RSS of one cold run of each tool (ctr is a
# client: containerd does the work, so its daemon's high-water mark is shown instead).
rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
for tag in bookworm multi; do
  REF=$REGISTRY/debian:$tag
  BERTH_CMD="$BERTH --root $S/berth --config $W/bcfg pull -q $REF"
  PODMAN_CMD="podman ${PM[*]} pull -q $REF"
  SKOPEO_CMD="sh -c 'skopeo copy -q --src-tls-verify=false docker://$REF oci:$S/sk:x && umoci unpack --image $S/sk:x $S/bundle >/dev/null'"
  CTR_CMD="${CTR[*]} images pull --plain-http $REF"
  echo "== debian:$tag; load before: $(cat /proc/loadavg)"
  hyperfine -N --warmup 1 --runs "$RUNS" --style basic --export-json "$W/pull-$tag.json" \
    -n berth --prepare "sh -c 'rm -rf $S/berth; sync'" "$BERTH_CMD" \
    -n podman --prepare "sh -c 'podman ${PM[*]} rmi -af >/dev/null 2>&1; sync'" "$PODMAN_CMD" \
    -n skopeo+umoci --prepare "sh -c 'rm -rf $S/sk $S/bundle; sync'" "$SKOPEO_CMD" \
    -n ctr --prepare "sh -c '${CTR[*]} images rm --sync $REF >/dev/null 2>&1; sync'" "$CTR_CMD"
  echo "load after: $(cat /proc/loadavg)"
  rm -rf "$S/berth"; r_berth=$(rss sh -c "$BERTH_CMD")
  podman "${PM[@]}" rmi -af >/dev/null 2>&1; r_podman=$(rss sh -c "$PODMAN_CMD")
  rm -rf "$S/sk" "$S/bundle"; r_sk=$(rss skopeo copy -q --src-tls-verify=false "docker://$REF" "oci:$S/sk:x")
  r_umoci=$(rss umoci unpack --image "$S/sk:x" "$S/bundle")
  "${CTR[@]}" images rm --sync "$REF" >/dev/null 2>&1; "${CTR[@]}" images pull --plain-http "$REF" >/dev/null
  r_ctrd=$(awk '/VmHWM/{print $2}' "/proc/$(cat "$W/containerd.pid")/status")
  printf '%s\t%s\t%s\t%s\t%s\n' "$r_berth" "$r_podman" "$r_sk" "$r_umoci" "$r_ctrd" > "$W/rss-$tag.tsv"
done

python3 - "$W" "$OUT" <<'PY'
import json, sys
w, out = sys.argv[1], sys.argv[2]
tools = ["berth", "podman", "skopeo+umoci", "ctr"]
lines, rows = [], []
for tag, what in [("bookworm", "one layer"), ("multi", "seven layers")]:
    res = {r["command"]: r for r in json.load(open(f"{w}/pull-{tag}.json"))["results"]}
    b, p, s, u, c = open(f"{w}/rss-{tag}.tsv").read().split()
    rss = {"berth": b, "podman": p, "skopeo+umoci": f"{s} + {u}", "ctr": f"containerd {c}"}
    pod = res["podman"]["median"]
    lines += [f"debian:{tag} ({what})", "",
              "| tool | median (s) | min (s) | max (s) | vs podman | peak RSS (KiB) |",
              "|---|---|---|---|---|---|"]
    for t in tools:
        r = res[t]
        lines.append(f"| {t} | {r['median']:.3f} | {r['min']:.3f} | {r['max']:.3f} | "
                     f"{r['median'] / pod:.2f} | {rss[t]} |")
    lines.append("")
    rows.append(f"\"debian:{tag} ({what})\" " + " ".join(f"{res[t]['median']:.3f}" for t in tools))
open(f"{out}/summary.md", "w").write("\n".join(lines))
open(f"{out}/pull.dat", "w").write("\n".join(rows) + "\n")
print("\n".join(lines))
PY
gnuplot <<EOF
$(. bench/lib.sh; chart_preamble "$OUT/pull.svg" 640 420 1)
set title "Pull and unpack from a local registry, median s (lower is better)"
set ylabel "seconds"
plot "$OUT/pull.dat" using 2:xtic(1) title "berth", '' using 3 title "podman", \
     '' using 4 title "skopeo+umoci", '' using 5 title "ctr"
EOF
echo "summary: $OUT/summary.md, chart: $OUT/pull.svg"
