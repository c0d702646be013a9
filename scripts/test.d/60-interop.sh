# Interop: berth-runtime as the runtime of podman, dockerd and containerd (ctr, and the CRI
# runtime handler of docs/KUBERNETES.md), each installed from Debian and started here with its
# state under one scratch directory. The clients run in a private network and mount namespace
# (tests/interop/run.sh) under a subreaper: their bridges, firewall rules and mounts die with it.
# The host's firewall tables are compared before and after, and the few host paths the clients
# insist on (cgroup parents, /run/containerd, /run/docker, /etc/docker/key.json, /var/lib/cni) are removed
# when this run created them.
# Arguments filter the tests by name: `bash scripts/test.d/60-interop.sh kubernetes_doc`.
set -euo pipefail
cd "$(dirname "$0")/../.."
for tool in podman conmon containerd ctr dockerd docker tmux curl skopeo umoci iptables-save tini jq setpriv; do
  command -v "$tool" >/dev/null || { echo "60-interop: $tool is missing (see .ci/packages)" >&2; exit 1; }
done
cargo build --release --locked -p berth-runtime
cargo test --locked -p berth-runtime --test interop --no-run

firewall() {
  { iptables-save; ip6tables-save; iptables-legacy-save; ip6tables-legacy-save; nft list ruleset || true; } 2>/dev/null |
    sed -e '/^#/d' -e 's/\[[0-9]*:[0-9]*\]//g' -e 's/counter packets [0-9]* bytes [0-9]*//g'
}
# Host paths the clients create outside their configured directories.
host_paths() {
  for d in /sys/fs/cgroup/*/; do
    for n in docker libpod_parent berth k8s.io; do [ -d "$d$n" ] && echo "$d$n"; done
  done
  for p in /run/containerd /run/containerd/runc/berth /run/containerd/runc/k8s.io /run/docker /etc/docker/key.json /var/lib/cni; do
    [ -e "$p" ] && echo "$p"
  done
  return 0
}

fw_before=$(firewall)
paths_before=$(host_paths)
links_before=$(ip -o link | awk '{print $2}')
W=$(mktemp -d /tmp/berth-interop.XXXXXX)
cleanup() {
  local rc=$? p
  for p in $(host_paths | sort -r); do
    grep -qxF "$p" <<<"$paths_before" && continue
    case "$p" in
      /sys/fs/cgroup/*) find "$p" -depth -type d -exec rmdir {} + 2>/dev/null || echo "60-interop: cgroup $p is not empty" >&2 ;;
      *) rm -rf "$p" ;;
    esac
  done
  if [ "$(firewall)" != "$fw_before" ]; then
    echo "60-interop: the host's firewall rules changed:" >&2
    diff <(echo "$fw_before") <(firewall) >&2 || true
    rc=1
  fi
  if [ "$(ip -o link | awk '{print $2}')" != "$links_before" ]; then
    echo "60-interop: the host's network links changed" >&2; rc=1
  fi
  if grep -q " $W" /proc/self/mountinfo; then echo "60-interop: mounts left under $W" >&2; rc=1; fi
  rm -rf "$W"
  exit $rc
}
trap cleanup EXIT
tini -s -- unshare --net --mount --propagation private tests/interop/run.sh "$W" "$@"
