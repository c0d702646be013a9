#!/usr/bin/env bash
# run.sh DIR — the inside of scripts/test.d/60-interop.sh, in a private network and mount
# namespace under a subreaper: starts containerd (CRI handler from docs/KUBERNETES.md) and
# dockerd, loads the busybox image into them and podman, runs the interop tests
# (bin/berth-runtime/tests/interop/) and removes everything the clients started.
set -euo pipefail
W=${1:?usage: run.sh DIR}
cd "$(dirname "$0")/../.."
HERE=tests/interop
RT=$PWD/target/release/berth-runtime
ip link set lo up
export BERTH_INTEROP_RUNTIME=$RT BERTH_INTEROP_DIR=$W BERTH_INTEROP_CONTAINERD=$W/containerd/containerd.sock
export DOCKER_HOST=unix://$W/docker/docker.sock DOCKER_CONFIG=$W/docker/client
export CARGO_NET_OFFLINE=true
# shellcheck source=tests/interop/podman-env.sh
. "$HERE/podman-env.sh"
CTR=(ctr --address "$BERTH_INTEROP_CONTAINERD")

cleanup() {
  local rc=$? ns id pid
  podman rm -af -t 0 >/dev/null 2>&1 || true
  [ -S "$W/docker/docker.sock" ] && docker ps -aq | xargs -r docker rm -f >/dev/null 2>&1
  for ns in berth k8s.io; do
    for id in $("${CTR[@]}" -n "$ns" task ls -q 2>/dev/null); do
      "${CTR[@]}" -n "$ns" task kill -s KILL "$id" >/dev/null 2>&1 || true
      "${CTR[@]}" -n "$ns" task delete -f "$id" >/dev/null 2>&1 || true
    done
    "${CTR[@]}" -n "$ns" container ls -q 2>/dev/null | xargs -r "${CTR[@]}" -n "$ns" container delete >/dev/null 2>&1 || true
  done
  "$HERE/dockerd.sh" stop "$W/docker"
  "$HERE/containerd.sh" stop "$W/containerd"
  # Whatever is still a child of our subreaper (a shim or conmon that outlived its daemon).
  for pid in $(ps -o pid= --ppid "$PPID"); do
    [ "$pid" = $$ ] && continue
    echo "60-interop: killing leftover $(ps -o comm= -p "$pid") ($pid)" >&2
    kill -9 "$pid" 2>/dev/null || true
  done
  exit $rc
}
trap cleanup EXIT

"$HERE/images.sh" "$W/images"
# The containerd runtime handler exactly as docs/KUBERNETES.md writes it, pointed at this build.
awk '/<!-- interop: containerd-cri -->/ {on=1; next} on && /^```toml/ {inside=1; next}
     inside && /^```/ {exit} inside {print}' docs/KUBERNETES.md |
  sed "s|/usr/local/bin/berth-runtime|$RT|" >"$W/cri-runtimes.toml"
grep -q "BinaryName = \"$RT\"" "$W/cri-runtimes.toml" ||
  { echo "run.sh: no runtime handler found in docs/KUBERNETES.md" >&2; exit 1; }

"$HERE/containerd.sh" start "$W/containerd" "$W/cri-runtimes.toml"
"${CTR[@]}" -n berth images import "$W/images/busybox.docker.tar" >/dev/null
"${CTR[@]}" -n k8s.io images import "$W/images/busybox.docker.tar" >/dev/null
"${CTR[@]}" -n k8s.io images import "$W/images/pause.docker.tar" >/dev/null
"$HERE/dockerd.sh" start "$W/docker" "$RT"
docker load -q -i "$W/images/busybox.docker.tar" >/dev/null
podman load -q -i "$W/images/busybox.docker.tar" >/dev/null

cargo test --locked -p berth-runtime --test interop -- --ignored --test-threads=2
