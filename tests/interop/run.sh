#!/usr/bin/env bash
# run.sh DIR [TEST-NAME-FILTER...] — the inside of scripts/test.d/60-interop.sh, in a private
# network and mount namespace under a subreaper: starts containerd and dockerd, loads the busybox image into
# them and podman, runs the interop tests (bin/berth-runtime/tests/interop/; the CRI tests
# start containerds of their own, set up as docs/KUBERNETES.md says, from DIR/images) and
# removes everything the clients started.
set -euo pipefail
W=${1:?usage: run.sh DIR [TEST-NAME-FILTER...]}
shift
cd "$(dirname "$0")/../.."
HERE=tests/interop
RT=$PWD/target/release/berth-runtime
ip link set lo up
export BERTH_INTEROP_RUNTIME=$RT BERTH_INTEROP_DIR=$W BERTH_INTEROP_CONTAINERD=$W/containerd/containerd.sock
export DOCKER_HOST=unix://$W/docker/docker.sock DOCKER_CONFIG=$W/docker/client
export CARGO_NET_OFFLINE=true
# shellcheck source=tests/interop/podman-env.sh
. "$HERE/podman-env.sh"

cleanup() {
  local rc=$? d pid
  podman rm -af -t 0 >/dev/null 2>&1 || true
  [ -S "$W/docker/docker.sock" ] && docker ps -aq | xargs -r docker rm -f >/dev/null 2>&1
  "$HERE/dockerd.sh" stop "$W/docker"
  # The shared containerd, and those a CRI test (cri.rs) left running if it was killed.
  for d in "$W/containerd" "$W"/cri-*; do "$HERE/containerd.sh" stop "$d"; done
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
"$HERE/containerd.sh" start "$W/containerd"
ctr --address "$BERTH_INTEROP_CONTAINERD" -n berth images import "$W/images/busybox.docker.tar" >/dev/null
"$HERE/dockerd.sh" start "$W/docker" "$RT"
docker load -q -i "$W/images/busybox.docker.tar" >/dev/null
podman load -q -i "$W/images/busybox.docker.tar" >/dev/null

# The systemd-driver node needs systemd as PID 1: scripts/test.d/42-systemd-vm.sh runs it in
# the VM that boots systemd.
skip=()
[ -d /run/systemd/system ] || skip=(--skip cri::kubernetes_doc_with_the_systemd_cgroup_driver)
cargo test --locked -p berth-runtime --test interop -- --ignored --test-threads=2 "${skip[@]}" "$@"
