#!/usr/bin/env bash
# dockerd.sh start|stop DIR RUNTIME — a private dockerd (Debian's docker.io) with data-root,
# exec-root, pid file and socket (DIR/docker.sock) under DIR, its own supervised containerd,
# iptables off (no rule is written anywhere), bridge docker0 on 10.89.77.1/24, published ports
# through docker-proxy, and RUNTIME registered as the runtime "berth".
set -euo pipefail
CMD=${1:?usage: dockerd.sh start|stop DIR [RUNTIME]}
D=${2:?usage: dockerd.sh start|stop DIR [RUNTIME]}

start() {
  local rt=${1:?dockerd.sh start needs the runtime path}
  mkdir -p "$D/root" "$D/exec" "$D/client"
  # podman reads $DOCKER_CONFIG too, and fails when it has no config.json
  [ -f "$D/client/config.json" ] || echo '{}' >"$D/client/config.json"
  cat >"$D/daemon.json" <<EOF2
{
  "data-root": "$D/root",
  "exec-root": "$D/exec",
  "pidfile": "$D/dockerd.pid",
  "hosts": ["unix://$D/docker.sock"],
  "iptables": false,
  "ip6tables": false,
  "ip-masq": false,
  "bip": "10.89.77.1/24",
  "storage-driver": "overlay2",
  "exec-opts": ["native.cgroupdriver=cgroupfs"],
  "default-ulimits": {"nofile": {"Name": "nofile", "Soft": $(ulimit -Hn), "Hard": $(ulimit -Hn)}},
  "features": {"buildkit": false}
}
EOF2
  setsid dockerd --config-file "$D/daemon.json" --add-runtime "berth=$rt" \
    >"$D/dockerd.log" 2>&1 </dev/null &
  echo $! >"$D/launcher.pid"
  for _ in $(seq 150); do
    DOCKER_HOST=unix://$D/docker.sock DOCKER_CONFIG=$D/client docker version >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "dockerd did not start; log:" >&2; tail -20 "$D/dockerd.log" >&2; exit 1
}

stop() {
  local pid
  pid=$(cat "$D/dockerd.pid" 2>/dev/null || cat "$D/launcher.pid" 2>/dev/null || true)
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || true   # dockerd stops its containerd
  for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$D/launcher.pid"
}

case "$CMD" in
  start) start "${3:-}" ;;
  stop) stop ;;
  *) echo "usage: dockerd.sh start|stop DIR [RUNTIME]" >&2; exit 2 ;;
esac
