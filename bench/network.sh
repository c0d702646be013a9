#!/usr/bin/env bash
# bench/network.sh — what bridge networking costs berth, podman (netavark 1.4) and docker
# (dockerd 20.10, iptables on, userland proxy on: its defaults), in one run, as root:
#
#   cargo build --release -p berth && bench/network.sh
#
#   1. start: `run --rm busybox true` with --network none and on the default bridge network,
#      in one hyperfine run: the medians, and what the bridge adds;
#   2. TCP throughput (iperf3, SECS seconds each): the host to a published port, at 127.0.0.1
#      and at the host's own address; the host to the container's own address; one container
#      to another on the default network;
#   3. connections per second to a published port (ab, no keep-alive, against busybox httpd).
#
# Traffic is measured first, for berth and podman, then dockerd is started (it sets iptables'
# FORWARD policy to DROP, which with br_netfilter drops every other bridge's forwarded
# traffic), then docker's traffic interleaved with berth's again, then the starts of all three.
# Everything runs in a private network and mount namespace under a subreaper: the engines'
# bridges and firewall rules die with it, and the host's network is never touched. The
# host's own address is 192.0.2.1 on an empty bridge there. Each engine has its own store
# (podman and dockerd as in tests/interop/, podman switched to netavark).
#
# The start's cost is also taken from PAIRS interleaved pairs (none, bridge, alternating
# which goes first): the median of the pairs' differences holds up better than the
# difference of two medians on a machine whose load drifts.
#
# Environment: RUNS=30 WARMUP=5 PAIRS=40 SECS=5 REPEAT=5 AB_N=3000 DOCKER=1
# BERTH=target/release/berth
# Output: hyperfine's table, then summary.md (and the numbers in results.tsv, the chart in
# network.svg) in $OUT (default a fresh /tmp/berth-bench-network.XXXXXX, kept).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-30}
WARMUP=${WARMUP:-5}
SECS=${SECS:-5}
REPEAT=${REPEAT:-5}
PAIRS=${PAIRS:-40}
AB_N=${AB_N:-3000}
DOCKER=${DOCKER:-1}
BERTH=$(readlink -f "${BERTH:-target/release/berth}")
for t in hyperfine jq podman iperf3 ab gnuplot tini unshare ldd; do
  command -v "$t" >/dev/null || { echo "missing $t (see .ci/packages)" >&2; exit 1; }
done
[ -x /usr/lib/podman/netavark ] || { echo "missing netavark (apt-get install netavark aardvark-dns)" >&2; exit 1; }
[ -x /bin/busybox ] || { echo "missing /bin/busybox (apt-get install busybox-static)" >&2; exit 1; }

if [ -z "${BENCH_INNER:-}" ]; then
  [ -x "$BERTH" ] || { echo "build it first: cargo build --release -p berth" >&2; exit 1; }
  OUT=${OUT:-$(mktemp -d /tmp/berth-bench-network.XXXXXX)}
  export BENCH_INNER=1 OUT BERTH
  exec tini -s -- unshare --net --mount --propagation private "$0" "$@"
fi

ip link set lo up
ip link add bhost type bridge && ip addr add 192.0.2.1/24 dev bhost && ip link set bhost up
if [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then umount /sys/fs/cgroup/unified; fi
W=$OUT/work
mkdir -p "$W"
export W
# shellcheck source=tests/interop/podman-env.sh
. tests/interop/podman-env.sh
# shellcheck source=bench/lib.sh
. bench/lib.sh
sed -i -e 's/network_backend = "cni"/network_backend = "netavark"/' -e '/network_config_dir/d' "$CONTAINERS_CONF"
B=("$BERTH" --root "$W/berth" --config "$W/berth-config")
DK=(docker -H "unix://$W/docker/docker.sock")
cleanup() {
  "${B[@]}" ps -aq 2>/dev/null | while read -r id; do "${B[@]}" rm -f "$id" >/dev/null || true; done
  podman rm -af -t 0 >/dev/null 2>&1 || true
  if [ "$DOCKER" = 1 ]; then
    "${DK[@]}" rm -f $("${DK[@]}" ps -aq 2>/dev/null) >/dev/null 2>&1 || true
    kill "$(cat "$W/docker/dockerd.pid" 2>/dev/null)" 2>/dev/null || true
    sleep 2
  fi
  { grep -o " $W[^ ]*" /proc/self/mounts || true; } | sort -r | while read -r m; do umount -l "$m" || true; done
  rm -rf "$W"
}
trap cleanup EXIT

# The image: busybox-static with every applet, and iperf3 with the libraries it links.
R=$W/rootfs
busybox_rootfs "$R" www
cp "$(command -v iperf3)" "$R/bin/iperf3"
for lib in $(ldd "$(command -v iperf3)" | grep -o '/[^ ]*'); do
  mkdir -p "$R$(dirname "$lib")" && cp -L "$lib" "$R$lib"
done
printf 'hello\n' >"$R/www/index.html"
tar -C "$R" -cf "$W/bench.tar" .
"${B[@]}" import -c 'CMD ["sh"]' "$W/bench.tar" bench >/dev/null
"${B[@]}" save --format docker-archive -o "$W/bench.docker.tar" bench
podman load -q -i "$W/bench.docker.tar" >/dev/null
IMG=localhost/bench:latest
engines=(berth podman)
run_cmd() { # engine → its `run` words
  case $1 in
    berth) echo "${B[*]} run" ;;
    podman) echo "podman run" ;;
    docker) echo "${DK[*]} run" ;;
  esac
}
img() { [ "$1" = berth ] && echo bench || echo "$IMG"; }
# 2 and 3. Servers: iperf3 and httpd, published; then the clients, in REPEAT rounds that
# interleave the engines (each round in another order), so a drift in the machine's load
# falls on every engine alike. Each figure is the median of its engine's rounds.
gbits() { # iperf3 client words → received Gbit/s
  "$@" -t "$SECS" -J >"$OUT/iperf.json" || true
  jq -e '.end.sum_received.bits_per_second / 1e9 * 100 | round / 100' "$OUT/iperf.json" 2>/dev/null ||
    { echo "iperf3 failed: $* ($(jq -r .error "$OUT/iperf.json" 2>/dev/null))" >&2; echo 0; }
}
rps() { ab -q -n "$AB_N" -c 8 "$1" 2>/dev/null | awk '/Requests per second/ {print int($4)}'; }
METRICS="lo hostaddr ctraddr c2c cps_lo cps_host"
traffic() { # engines...
  declare -A ports ips
  for e in "$@"; do
    port=$((port + 1))
    ports[$e]=$port
    $(run_cmd "$e") -d --name "ip-$e" -p "1${port}201:5201" "$(img "$e")" iperf3 -s >/dev/null
    $(run_cmd "$e") -d --name "web-$e" -p "1${port}080:80" "$(img "$e")" httpd -f -p 80 -h /www >/dev/null
  done
  sleep 1
  for e in "$@"; do
    ips[$e]=$(case $e in
      berth) "${B[@]}" inspect "ip-$e" ;;
      podman) podman inspect "ip-$e" ;;
      docker) "${DK[@]}" inspect "ip-$e" ;;
    esac | jq -r '.[0].NetworkSettings.IPAddress // .[0].NetworkSettings.Networks[].IPAddress')
  done
  local order=("$@")
  : >"$OUT/rounds.txt"
  for _ in $(seq "$REPEAT"); do
    for e in "${order[@]}"; do
      p=${ports[$e]}
      echo "$e lo $(gbits iperf3 -c 127.0.0.1 -p "1${p}201")"
      echo "$e hostaddr $(gbits iperf3 -c 192.0.2.1 -p "1${p}201")"
      echo "$e ctraddr $(gbits iperf3 -c "${ips[$e]}")"
      if [ "$e" = docker ] || [ -z "$DOCKERD_UP" ]; then
        echo "$e c2c $(gbits $(run_cmd "$e") --rm "$(img "$e")" iperf3 -c "${ips[$e]}")"
      fi
      echo "$e cps_lo $(rps "http://127.0.0.1:1${p}080/")"
      echo "$e cps_host $(rps "http://192.0.2.1:1${p}080/")"
    done
    order=("${order[@]:1}" "${order[0]}")
  done >>"$OUT/rounds.txt"
  for e in "$@"; do
    label=$e
    [ "$e" != docker ] && [ -n "$DOCKERD_UP" ] && label="$e (dockerd up)"
    printf '%s' "$label"
    for m in $METRICS; do
      v=$(awk -v e="$e" -v m="$m" '$1 == e && $2 == m {print $3}' "$OUT/rounds.txt")
      printf '\t%s' "$([ -n "$v" ] && median <<<"$v" || echo -)"
    done
    echo
    case $e in
      berth) "${B[@]}" rm -f "ip-$e" "web-$e" >/dev/null ;;
      podman) podman rm -f -t 0 "ip-$e" "web-$e" >/dev/null ;;
      docker) "${DK[@]}" rm -f "ip-$e" "web-$e" >/dev/null ;;
    esac
  done >>"$OUT/results.tsv"
}

start_docker() {
  mkdir -p "$W/docker/root" "$W/docker/exec"
  cat >"$W/docker/daemon.json" <<EOF
{ "data-root": "$W/docker/root", "exec-root": "$W/docker/exec", "pidfile": "$W/docker/dockerd.pid",
  "hosts": ["unix://$W/docker/docker.sock"], "bip": "10.89.77.1/24", "storage-driver": "overlay2",
  "exec-opts": ["native.cgroupdriver=cgroupfs"], "features": {"buildkit": false},
  "default-ulimits": {"nofile": {"Name": "nofile", "Soft": $(ulimit -Hn), "Hard": $(ulimit -Hn)}} }
EOF
  setsid dockerd --config-file "$W/docker/daemon.json" >"$W/docker/dockerd.log" 2>&1 </dev/null &
  for _ in $(seq 150); do "${DK[@]}" version >/dev/null 2>&1 && break; sleep 0.2; done
  "${DK[@]}" load -q -i "$W/bench.docker.tar" >/dev/null
  engines+=(docker)
}

# 2 and 3 for berth and podman first: dockerd sets iptables' FORWARD policy to DROP, which,
# with br_netfilter, drops the traffic of every other bridge (see docs/NETWORK.md).
# Then berth again beside docker, interleaved with it as above, without container→container
# traffic (dockerd's FORWARD policy drops what crosses another engine's bridge).
: >"$OUT/results.tsv"
port=0
DOCKERD_UP=
traffic "${engines[@]}"
if [ "$DOCKER" = 1 ]; then
  start_docker
  DOCKERD_UP=1
  traffic berth docker
fi

# 1. Start: none and bridge, each engine.
args=()
for e in "${engines[@]}"; do
  for net in none bridge; do
    cmd="$(run_cmd "$e") --rm --network $net $(img "$e") true"
    $cmd >/dev/null || { echo "failed: $cmd" >&2; exit 1; }
    args+=(-n "$e-$net" "$cmd")
  done
done
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
hyperfine -N --warmup "$WARMUP" --runs "$RUNS" --style basic --export-json "$OUT/start.json" "${args[@]}"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
now() { date +%s%N; }
for e in "${engines[@]}"; do
  run=$(run_cmd "$e")
  i=$(img "$e")
  for k in $(seq "$PAIRS"); do
    nets=(none bridge)
    [ $((k % 2)) = 0 ] && nets=(bridge none)
    for net in "${nets[@]}"; do
      t0=$(now)
      $run --rm --network "$net" "$i" true >/dev/null
      echo "$net $(( ($(now) - t0) / 1000 ))"
    done | sort | awk '{t[$1] = $2} END {print t["bridge"] - t["none"]}'
  done | median | awk -v e="$e" '{printf "%s %.1f\n", e, $1 / 1000}'
done >"$OUT/adds.dat"

{
  echo "| engine | none: median ms | bridge: median ms | difference of medians | median of $PAIRS paired differences (ms) |"
  echo "|---|---|---|---|---|"
  for k in "${!engines[@]}"; do
    jq -r --argjson a $((2 * k)) --argjson b $((2 * k + 1)) --arg e "${engines[$k]}" \
      --arg paired "$(awk -v e="${engines[$k]}" '$1 == e {print $2}' "$OUT/adds.dat")" '
      (.results[$a].median * 1000) as $n | (.results[$b].median * 1000) as $br |
      "| \($e) | \($n * 10 | round / 10) | \($br * 10 | round / 10) | \(($br - $n) * 10 | round / 10) | \($paired) |"' \
      "$OUT/start.json"
  done
  echo
  echo "| engine | iperf3 host→127.0.0.1:port Gbit/s | host→192.0.2.1:port Gbit/s | host→container address Gbit/s | container→container Gbit/s | conn/s 127.0.0.1:port | conn/s 192.0.2.1:port |"
  echo "|---|---|---|---|---|---|---|"
  awk -F'\t' '{printf "| %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7}' "$OUT/results.tsv"
} | tee "$OUT/summary.md"

# The chart: what the bridge adds to a start (paired), throughput, connections per second.
gnuplot <<EOF
$(chart_preamble "$OUT/network.svg" 960 340 3)
set title "bridge: ms added to run --rm true"
set yrange [*:*]
plot "$OUT/adds.dat" using 2:xtic(1) notitle lc rgb "#4a7ab5"
set yrange [0:*]
set datafile separator "\t"
set datafile missing "-"
set title "TCP throughput, Gbit/s"
plot "$OUT/results.tsv" using 2:xtic(1) title "host→127.0.0.1", "" using 3 title "host→host addr", "" using 4 title "host→ctr addr", "" using 5 title "ctr→ctr"
set title "connections/s to a published port"
plot "$OUT/results.tsv" using 6:xtic(1) title "127.0.0.1", "" using 7 title "host addr"
unset multiplot
EOF
echo "chart: $OUT/network.svg"
