#!/usr/bin/env bash
# containerd.sh start|stop DIR [CRI-RUNTIMES.toml] — a private containerd (Debian's 1.6) with
# root, state, socket and logs under DIR: socket DIR/containerd.sock. With a second argument,
# the CRI plugin is enabled (host-network pods only: CNI config in DIR/cni, empty) and that
# file's runtime handlers are appended to its configuration; otherwise CRI is disabled.
# The runc shims it starts put their sockets in /run/containerd/s/<hash of our socket path>.
set -euo pipefail
CMD=${1:?usage: containerd.sh start|stop DIR [CRI-RUNTIMES.toml]}
D=${2:?usage: containerd.sh start|stop DIR [CRI-RUNTIMES.toml]}
CRI=${3:-}

start() {
  mkdir -p "$D/root" "$D/state" "$D/opt" "$D/cni"
  {
    echo 'version = 2'
    echo "root = \"$D/root\""
    echo "state = \"$D/state\""
    [ -n "$CRI" ] || echo 'disabled_plugins = ["io.containerd.grpc.v1.cri"]'
    echo '[grpc]'
    echo "  address = \"$D/containerd.sock\""
    echo '[ttrpc]'
    echo "  address = \"$D/containerd.sock.ttrpc\""
    echo '[plugins."io.containerd.internal.v1.opt"]'
    echo "  path = \"$D/opt\""
    if [ -n "$CRI" ]; then
      echo '[plugins."io.containerd.grpc.v1.cri"]'
      echo '  sandbox_image = "localhost/pause:latest"'
      echo '  stream_server_address = "127.0.0.1"'
      # pods ask for oom_score_adj -998, which needs CAP_SYS_RESOURCE (some CI hosts lack it)
      echo '  restrict_oom_score_adj = true'
      echo '[plugins."io.containerd.grpc.v1.cri".cni]'
      echo "  conf_dir = \"$D/cni\""
      echo '  bin_dir = "/usr/lib/cni"'
      # the default handler, as in `containerd config default`
      echo '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]'
      echo '  runtime_type = "io.containerd.runc.v2"'
      cat "$CRI"
    fi
  } >"$D/config.toml"
  setsid containerd --config "$D/config.toml" >"$D/containerd.log" 2>&1 </dev/null &
  echo $! >"$D/pid"
  for _ in $(seq 100); do
    ctr --address "$D/containerd.sock" version >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "containerd did not start; log:" >&2; tail -20 "$D/containerd.log" >&2; exit 1
}

stop() {
  [ -f "$D/pid" ] || return 0
  local pid; pid=$(cat "$D/pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$D/pid"
}

case "$CMD" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: containerd.sh start|stop DIR [CRI-RUNTIMES.toml]" >&2; exit 2 ;;
esac
