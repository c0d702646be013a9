# podman-env.sh — source with W set: a private, systemd-free podman configuration under $W/podman
# (cgroupfs driver, file events and locks, CNI networks in $W/podman/cni), so that nothing is
# shared with a podman already used on the host (/var/lib/containers, /run/containers,
# /dev/shm/libpod_lock, /etc/cni/net.d).
: "${W:?W must be set}"
_P=$W/podman
mkdir -p "$_P/root" "$_P/run" "$_P/tmp" "$_P/cni"
cat >"$_P/containers.conf" <<EOF2
[containers]
log_driver = "k8s-file"
# root may lack CAP_SYS_RESOURCE (a hard RLIMIT_NOFILE below podman's default 1048576), and
# podman 4.3 lowers its own RLIMIT_NPROC to 32768.
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=32768:32768"]

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$_P/tmp"
lock_type = "file"

[network]
network_backend = "cni"
network_config_dir = "$_P/cni"
EOF2
cat >"$_P/storage.conf" <<EOF2
[storage]
driver = "overlay"
graphroot = "$_P/root"
runroot = "$_P/run"
EOF2
printf 'unqualified-search-registries = []\nshort-name-mode = "permissive"\n' >"$_P/registries.conf"
export CONTAINERS_CONF=$_P/containers.conf CONTAINERS_STORAGE_CONF=$_P/storage.conf \
  CONTAINERS_REGISTRIES_CONF=$_P/registries.conf
unset _P
