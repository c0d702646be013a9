#!/usr/bin/env bash
# registry.sh start|stop DIR — three docker-registry instances on 127.0.0.1 for berth's
# image tests, with all state (certs, htpasswd, data, logs, pids) under DIR:
#   $PLAIN_PORT (5110)  plain HTTP, no auth
#   $BASIC_PORT (5111)  HTTPS (self-signed) + htpasswd basic auth
#   $TOKEN_PORT (5113)  HTTPS + bearer tokens from token-server.py on $TOKENSRV_PORT (5112)
# Credentials: $REG_USER / $REG_PASS (tester / testpass). CA: DIR/certs.d/127.0.0.1:PORT/ca.crt.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CMD=${1:?usage: registry.sh start|stop DIR}
D=${2:?usage: registry.sh start|stop DIR}
: "${PLAIN_PORT:=5110}" "${BASIC_PORT:=5111}" "${TOKENSRV_PORT:=5112}" "${TOKEN_PORT:=5113}"
: "${REG_USER:=tester}" "${REG_PASS:=testpass}"

config() { # name port extra-yaml
  cat <<EOF2
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $D/data-$1
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$2
  secret: berth-test-$1
$3
EOF2
}

start() {
  mkdir -p "$D"/{certs,log,run}
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=127.0.0.1 \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -keyout "$D/certs/key.pem" -out "$D/certs/cert.pem" 2>/dev/null
  for p in "$BASIC_PORT" "$TOKEN_PORT"; do
    mkdir -p "$D/certs.d/127.0.0.1:$p"; cp "$D/certs/cert.pem" "$D/certs.d/127.0.0.1:$p/ca.crt"
  done
  htpasswd -Bbn "$REG_USER" "$REG_PASS" > "$D/htpasswd"
  local tls="  tls:
    certificate: $D/certs/cert.pem
    key: $D/certs/key.pem"
  config plain "$PLAIN_PORT" "" > "$D/plain.yml"
  config basic "$BASIC_PORT" "$tls
auth:
  htpasswd:
    realm: berth-test
    path: $D/htpasswd" > "$D/basic.yml"
  config token "$TOKEN_PORT" "$tls
auth:
  token:
    realm: https://127.0.0.1:$TOKENSRV_PORT/token
    service: berth-test-registry
    issuer: berth-test-issuer
    rootcertbundle: $D/certs/cert.pem" > "$D/token.yml"
  run plain docker-registry serve "$D/plain.yml"
  run basic docker-registry serve "$D/basic.yml"
  run tokensrv /usr/bin/python3 "$HERE/token-server.py" 127.0.0.1 "$TOKENSRV_PORT" \
    "$D/certs/cert.pem" "$D/certs/key.pem" "$D/htpasswd" berth-test-issuer
  run token docker-registry serve "$D/token.yml"
  for p in "$PLAIN_PORT" "$BASIC_PORT" "$TOKENSRV_PORT" "$TOKEN_PORT"; do
    for _ in $(seq 100); do
      curl -sk -o /dev/null "http://127.0.0.1:$p/" || curl -sk -o /dev/null "https://127.0.0.1:$p/" && continue 2
      sleep 0.1
    done
    echo "registry.sh: port $p did not come up; logs in $D/log" >&2; return 1
  done
}

run() { # name cmd...
  local n=$1; shift
  setsid "$@" > "$D/log/$n.log" 2>&1 < /dev/null &
  echo $! > "$D/run/$n.pid"
}

stop() {
  for f in "$D"/run/*.pid; do
    [ -f "$f" ] || continue
    local pid; pid=$(cat "$f")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$f"
  done
}

case "$CMD" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: registry.sh start|stop DIR" >&2; exit 2 ;;
esac
