#!/usr/bin/env bash
# containerd.sh start|stop DIR [NODE-CONFIG.toml] — a private containerd (Debian's 1.6) with
# root, state, socket and logs under DIR: socket DIR/containerd.sock.
# Without a config: a minimal one with the CRI plugin disabled.
# With one: a node's /etc/containerd/config.toml as a user would have it (CRI on), copied to
# DIR/config.toml with its host paths moved under DIR (root, state and the socket through
# containerd's flags; the opt plugin's path and the CNI config directory rewritten).
# The runc shims it starts put their sockets in /run/containerd/s/<hash of our socket path>.
set -euo pipefail
usage="usage: containerd.sh start|stop DIR [NODE-CONFIG.toml]"
CMD=${1:?$usage}
D=${2:?$usage}
NODE=${3:-}

start() {
  mkdir -p "$D/root" "$D/state" "$D/opt" "$D/cni"
  if [ -n "$NODE" ]; then
    sed -e "s|\"/var/lib/containerd/opt\"|\"$D/opt\"|; s|\"/opt/containerd\"|\"$D/opt\"|" \
      -e "s|\"/etc/cni/net.d\"|\"$D/cni\"|" "$NODE" >"$D/config.toml"
    # root, state and the gRPC address are the flags' below; nothing else may stay on the host.
    if grep -vE '^\s*(root|state|address) = ' "$D/config.toml" | grep -E '"(/var/lib/containerd|/run/containerd|/opt/containerd|/etc/cni/net.d)'; then
      echo "containerd.sh: $NODE keeps the host paths above" >&2; exit 1
    fi
  else
    {
      echo 'version = 2'
      echo 'disabled_plugins = ["io.containerd.grpc.v1.cri"]'
      echo '[plugins."io.containerd.internal.v1.opt"]'
      echo "  path = \"$D/opt\""
    } >"$D/config.toml"
  fi
  # An empty [ttrpc] address follows the gRPC one: DIR/containerd.sock.ttrpc.
  setsid containerd --config "$D/config.toml" --root "$D/root" --state "$D/state" \
    --address "$D/containerd.sock" >"$D/containerd.log" 2>&1 </dev/null &
  echo $! >"$D/pid"
  for _ in $(seq 100); do
    ctr --address "$D/containerd.sock" version >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "containerd did not start; log:" >&2; tail -20 "$D/containerd.log" >&2; exit 1
}

# Kills and deletes every task and container it has, then stops it.
stop() {
  [ -f "$D/pid" ] || return 0
  local pid ns id ctr=(timeout 20 ctr --address "$D/containerd.sock")
  pid=$(cat "$D/pid")
  for ns in $("${ctr[@]}" namespaces ls -q 2>/dev/null); do
    for id in $("${ctr[@]}" -n "$ns" task ls -q 2>/dev/null); do
      "${ctr[@]}" -n "$ns" task kill -s KILL "$id" >/dev/null 2>&1 || true
      "${ctr[@]}" -n "$ns" task delete -f "$id" >/dev/null 2>&1 || true
    done
    "${ctr[@]}" -n "$ns" container ls -q 2>/dev/null | xargs -r "${ctr[@]}" -n "$ns" container delete >/dev/null 2>&1 || true
  done
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$D/pid"
}

case "$CMD" in
  start) start ;;
  stop) stop ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
