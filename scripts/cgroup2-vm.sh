#!/usr/bin/env bash
# cgroup2-vm.sh — run one executable as root inside a throwaway QEMU VM whose only
# cgroup hierarchy is cgroup v2 (mounted at /sys/fs/cgroup, controllers enabled in the
# root's cgroup.subtree_control). Prints the program's output (stdout+stderr merged, via
# the serial console) and exits with the program's exit code.
# berth runs its cgroup v2 tests through it (scripts/test.d/40-cgroup2-vm.sh): this host
# and many CI hosts are cgroup v1 or hybrid, and cgroup mounts cannot be changed in place.
#
# usage: cgroup2-vm.sh [options] EXECUTABLE [ARGS...]
#   -e, --env KEY=VAL    export KEY=VAL for the program (repeatable)
#   -f, --file SRC[:DST] copy an extra host file/dir into the guest (DST defaults to SRC's
#                        absolute path; ELF files get their shared libraries copied too)
#   -s, --share DIR      9p-mount host DIR read-write at the same absolute path in the guest
#   -C, --cwd DIR        working directory in the guest (default /)
#   -m, --mem MB         guest memory (default 1024)
#   -c, --cpus N         vCPUs (default 2)
#   -t, --timeout SEC    wall-clock limit for the whole VM (default 300)
#       --no-enable      do not write +controllers into /sys/fs/cgroup/cgroup.subtree_control
#       --systemd        boot systemd as PID 1 instead: the guest's root is the host's root
#                        filesystem, read-only over 9p under a tmpfs overlay (so every host
#                        program is there, nothing is copied), systemd (cgroup v2 only) starts
#                        just D-Bus and a unit that runs the program, then the VM powers off
#       --systemd-hybrid as --systemd, with systemd's hybrid layout (v1 controllers plus a
#                        cgroup2 mount for its own tracking), the layout runc's v1 support
#                        is for
#       --dmesg          after the program, print the guest kernel log to stderr
#       --keep           keep the per-run work directory (printed to stderr)
# environment:
#   CGROUP2_VM_CACHE   cache dir for kernel/initramfs (default ${XDG_CACHE_HOME:-$HOME/.cache}/cgroup2-vm)
#   CGROUP2_VM_KERNEL  use this kernel image (vmlinux ELF or bzImage) instead of Debian's
#   CGROUP2_VM_ACCEL   auto (default) | tcg | kvm.  auto picks kvm only when /dev/kvm is usable,
#                      the CPU shows vmx/svm and kvm_pvm is not loaded; else TCG.
#   CGROUP2_VM_BOOT_TIMEOUT  seconds allowed from qemu start to the program starting (default 60);
#                      past it the boot is killed and tried once more, then exit 125
#   CGROUP2_VM_VERBOSE=1  show the whole serial console on stderr
#   CGROUP2_VM_CMDLINE_EXTRA  appended to the guest kernel command line (e.g. loglevel=7)
# exit status: the program's own (0-255; 128+N when killed by signal N);
#   124 = VM timed out, 125 = VM/setup failure (no exit marker seen).
#
# What it needs (installed with apt-get when missing and running as root):
#   qemu-system-x86, busybox-static, python3; network access to Debian's archive the first
#   time (apt-get download of linux-image-amd64's kernel; nothing is installed into /boot).
set -euo pipefail

VERSION=4
die() { echo "cgroup2-vm: $*" >&2; exit 125; }
log() { [ "${CGROUP2_VM_VERBOSE:-0}" = 1 ] && echo "cgroup2-vm: $*" >&2 || true; }

ENVS=() FILES=() SHARES=() CWD=/ MEM=1024 CPUS=2 TIMEOUT=300 ENABLE=1 DMESG=0 KEEP=0 SYSTEMD=0
while [ $# -gt 0 ]; do
  case "$1" in
    -e|--env) ENVS+=("$2"); shift 2;;
    -f|--file) FILES+=("$2"); shift 2;;
    -s|--share) SHARES+=("$(realpath "$2")"); shift 2;;
    -C|--cwd) CWD="$2"; shift 2;;
    -m|--mem) MEM="$2"; shift 2;;
    -c|--cpus) CPUS="$2"; shift 2;;
    -t|--timeout) TIMEOUT="$2"; shift 2;;
    --no-enable) ENABLE=0; shift;;
    --systemd) SYSTEMD=1; shift;;
    --systemd-hybrid) SYSTEMD=2; ENABLE=0; shift;;
    --dmesg) DMESG=1; shift;;
    --keep) KEEP=1; shift;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | grep '^#'; exit 0;;
    --) shift; break;;
    -*) die "unknown option $1";;
    *) break;;
  esac
done
[ $# -ge 1 ] || die "usage: $0 [options] EXECUTABLE [ARGS...]"
EXE="$1"; shift
[ -e "$EXE" ] || EXE="$(command -v "$EXE" || true)"
[ -n "$EXE" ] && [ -f "$EXE" ] || die "executable not found"
EXE="$(realpath "$EXE")"

CACHE="${CGROUP2_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cgroup2-vm}"
mkdir -p "$CACHE"

# ---------- prerequisites ----------
apt_install() {
  [ "$(id -u)" = 0 ] || die "missing $* (run as root to auto-install)"
  local i
  for i in $(seq 1 30); do
    if DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >"$CACHE/apt.log" 2>&1; then return 0; fi
    if grep -q 'Could not get lock' "$CACHE/apt.log"; then sleep 10; continue; fi
    apt-get update >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >"$CACHE/apt.log" 2>&1 && return 0
    cat "$CACHE/apt.log" >&2; die "apt-get install $* failed"
  done
  die "dpkg lock held too long"
}
command -v qemu-system-x86_64 >/dev/null || apt_install qemu-system-x86
# a statically linked busybox (Debian's busybox-static) is the guest's whole userland
if ! { [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; }; then apt_install busybox-static; fi
BUSYBOX=/bin/busybox
command -v python3 >/dev/null || apt_install python3

# ---------- kernel (cached) ----------
KDIR="$CACHE/kernel"
LOCK="$CACHE/.lock"
exec 9>"$LOCK"; flock 9
if [ -n "${CGROUP2_VM_KERNEL:-}" ]; then
  KIMG="$(realpath "$CGROUP2_VM_KERNEL")"; KMODS=""
else
  if [ ! -s "$KDIR/ready" ]; then
    rm -rf "$KDIR"; mkdir -p "$KDIR/dl"; chmod 777 "$KDIR/dl"
    pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
    if [ -z "$pkg" ]; then apt-get update >/dev/null 2>&1 || true
      pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}'); fi
    [ -n "$pkg" ] || die "cannot resolve linux-image-amd64"
    log "downloading $pkg"
    (cd "$KDIR/dl" && apt-get download "$pkg" >/dev/null 2>&1) || die "apt-get download $pkg failed"
    dpkg-deb -x "$KDIR"/dl/*.deb "$KDIR/root"
    kver=$(ls "$KDIR/root/lib/modules" | head -1)
    cp "$KDIR/root/boot/vmlinuz-$kver" "$KDIR/vmlinuz"
    # decompress bzImage -> vmlinux ELF: qemu boots it via the PVH entry, ~3 s faster under TCG
    python3 - "$KDIR/vmlinuz" "$KDIR/vmlinux" <<'PY' || true
import sys, lzma, gzip, zlib
d = open(sys.argv[1], 'rb').read()
out = None
i = d.find(b'\xfd7zXZ\x00')
if i >= 0:
    out = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(d[i:])
else:
    i = d.find(b'\x1f\x8b\x08\x00')
    if i >= 0: out = zlib.decompressobj(31).decompress(d[i:])
if out and out[:4] == b'\x7fELF': open(sys.argv[2], 'wb').write(out)
PY
    # kernel modules the guest loads at boot (dependency order resolved from .modinfo)
    mkdir -p "$KDIR/mods"
    python3 - "$KDIR/root/lib/modules/$kver" "$KDIR/mods" virtio_mmio virtio_pci 9pnet_virtio 9p overlay veth bridge tun fuse loop <<'PY'
import os, sys, re, shutil
root, dst, want = sys.argv[1], sys.argv[2], sys.argv[3:]
idx = {}
for dp, dn, fn in os.walk(root):
    for f in fn:
        if f.endswith('.ko'): idx[f[:-3].replace('-', '_')] = os.path.join(dp, f)
order = []
def visit(m):
    if m in order or m not in idx: return
    mm = re.search(rb'depends=([^\x00]*)\x00', open(idx[m], 'rb').read())
    for d in (mm.group(1).decode().split(',') if mm else []):
        if d: visit(d.replace('-', '_'))
    order.append(m)
for w in want: visit(w)
for m in order: shutil.copy(idx[m], os.path.join(dst, m + '.ko'))
open(os.path.join(dst, 'order'), 'w').write('\n'.join(order) + '\n')
PY
    echo "$kver" > "$KDIR/version"
    rm -rf "$KDIR/root" "$KDIR/dl"
    echo ok > "$KDIR/ready"
  fi
  if [ -s "$KDIR/vmlinux" ]; then KIMG="$KDIR/vmlinux"; else KIMG="$KDIR/vmlinuz"; fi
  KMODS="$KDIR/mods"
fi

# ---------- base initramfs (cached) ----------
BASE="$CACHE/base-v$VERSION.cpio"
if [ ! -s "$BASE" ] || [ "$BASE" -ot "$0" ]; then
  b=$(mktemp -d); mkdir -p "$b"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,mnt,sa,lib/modules,etc}
  cp "$BUSYBOX" "$b/bin/busybox"
  [ -n "$KMODS" ] && cp "$KMODS"/* "$b/lib/modules/"
  echo 'root:x:0:0:root:/root:/bin/sh' > "$b/etc/passwd"; echo 'root:x:0:' > "$b/etc/group"
  cat > "$b/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /root; mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
# /tmp becomes a tmpfs; payload files placed under /tmp are carried over onto it
mkdir -p /mnt/.tmp; mount -t tmpfs -o mode=1777 tmpfs /mnt/.tmp; cp -a /tmp/. /mnt/.tmp/ 2>/dev/null; mount --move /mnt/.tmp /tmp
mount -t tmpfs tmpfs /dev/shm; mount -t tmpfs tmpfs /run
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
if [ -f /lib/modules/order ]; then
  for m in $(cat /lib/modules/order); do insmod /lib/modules/$m.ko 2>/dev/null; done
fi
hostname cgroup2-vm; ip link set lo up 2>/dev/null
. /sa/config
if [ "$SA_ENABLE" = 1 ]; then
  for c in $(cat /sys/fs/cgroup/cgroup.controllers); do echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control; done
fi
if [ "$SA_SYSTEMD" != 0 ]; then
  # The host's root, read-only, under a tmpfs overlay; systemd starts only berth-vm.target,
  # whose service prints the markers.
  mkdir -p /mnt/lower /mnt/upper /mnt/root
  mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize=262144,cache=loose hostroot /mnt/lower
  mount -t tmpfs -o mode=755 tmpfs /mnt/upper && mkdir /mnt/upper/u /mnt/upper/w
  mount -t overlay -o lowerdir=/mnt/lower,upperdir=/mnt/upper/u,workdir=/mnt/upper/w overlay /mnt/root
  mount -t tmpfs -o mode=755 tmpfs /mnt/root/run
  mount -t tmpfs -o mode=1777 tmpfs /mnt/root/tmp
  cp -a /tmp/. /mnt/root/tmp/ 2>/dev/null
  # The host may be a container itself: its marker would put systemd in container mode,
  # which ignores the kernel's command line (the hybrid layout's switch among it).
  rm -f /mnt/root/.dockerenv
  mkdir -p /mnt/root/run/systemd/system && cp -a /sa /mnt/root/run/sa
  mv /mnt/root/run/sa/berth-vm.target /mnt/root/run/sa/berth-vm.service /mnt/root/run/systemd/system/
  for u in dbus.socket dbus.service; do
    mkdir -p /mnt/root/run/systemd/system/$u.d && cp /sa/no-default-dependencies.conf /mnt/root/run/systemd/system/$u.d/
  done
  while read -r tag path; do
    [ -n "$tag" ] || continue
    mkdir -p "/mnt/root$path" && mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=none "$tag" "/mnt/root$path"
  done < /sa/shares
  mount -t proc proc /mnt/root/proc && mount -t sysfs sysfs /mnt/root/sys && mount -t devtmpfs devtmpfs /mnt/root/dev
  # cgroup2 alone (systemd keeps to it), or nothing for systemd to mount its hybrid layout.
  [ "$SA_SYSTEMD" = 1 ] && mount -t cgroup2 -o nsdelegate cgroup2 /mnt/root/sys/fs/cgroup
  exec switch_root /mnt/root /lib/systemd/systemd --unit=berth-vm.target
fi
while read -r tag path; do
  [ -n "$tag" ] || continue
  mkdir -p "$path" && mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=none "$tag" "$path" || echo "cgroup2-vm: 9p mount of $path failed" >&2
done < /sa/shares
stty -onlcr 2>/dev/null
echo "@@CGROUP2VM:$SA_NONCE:BEGIN@@"
sh /sa/run.sh </dev/null 2>&1
rc=$?
printf '\n@@CGROUP2VM:%s:EXIT=%d@@\n' "$SA_NONCE" "$rc"
if [ "$SA_DMESG" = 1 ]; then echo "@@CGROUP2VM:$SA_NONCE:DMESG@@"; dmesg; echo "@@CGROUP2VM:$SA_NONCE:END@@"; fi
sync
poweroff -f
INIT
  chmod 755 "$b/init"
  (cd "$b" && find . | "$BUSYBOX" cpio -o -H newc 2>/dev/null) > "$BASE.tmp" && mv "$BASE.tmp" "$BASE"
  rm -rf "$b"
fi
flock -u 9

# ---------- per-run payload ----------
WORK=$(mktemp -d /tmp/cgroup2-vm.XXXXXX)
cleanup() { if [ "$KEEP" = 1 ]; then echo "cgroup2-vm: work dir $WORK" >&2; else rm -rf "$WORK"; fi; }
trap cleanup EXIT
P="$WORK/payload"; mkdir -p "$P/sa"

copy_in() {  # copy_in SRC DST : file/dir into payload at DST, plus shared libs of ELF files
  local src="$1" dst="$2"
  mkdir -p "$P$(dirname "$dst")"
  cp -a -L "$src" "$P$dst"
  local f
  while IFS= read -r -d '' f; do
    if head -c4 "$f" 2>/dev/null | grep -q 'ELF'; then
      ldd "$f" 2>/dev/null | grep -o '/[^ ]*' | while read -r lib; do
        [ -e "$lib" ] || continue
        [ -e "$P$lib" ] && continue
        mkdir -p "$P$(dirname "$lib")"; cp -L "$lib" "$P$lib"
      done
    fi
  done < <(find "$src" -type f -print0 2>/dev/null || true)
}
copy_in "$EXE" "$EXE"
# script interpreter (e.g. #!/bin/bash); busybox covers /bin/sh
if head -c2 "$EXE" | grep -q '#!'; then
  interp=$(head -1 "$EXE" | sed 's/^#![[:space:]]*//' | awk '{print $1}')
  [ "$interp" = /usr/bin/env ] && interp=$(command -v "$(head -1 "$EXE" | awk '{print $2}')" || true)
  case "$interp" in /bin/sh|/bin/ash|/bin/busybox|"") ;; *) [ -x "$interp" ] && copy_in "$(realpath "$interp")" "$interp";; esac
fi
for spec in "${FILES[@]+"${FILES[@]}"}"; do
  src="${spec%%:*}"; dst="${spec#*:}"; [ "$dst" = "$spec" ] && dst="$(realpath "$src")"
  copy_in "$src" "$dst"
done

NONCE=$(head -c8 /dev/urandom | od -An -tx1 | tr -d ' \n')
{
  echo "SA_NONCE=$NONCE"; echo "SA_ENABLE=$ENABLE"; echo "SA_DMESG=$DMESG"; echo "SA_SYSTEMD=$SYSTEMD"
} > "$P/sa/config"
if [ "$SYSTEMD" != 0 ]; then
  [ -x /lib/systemd/systemd ] || die "--systemd: /lib/systemd/systemd is missing (apt-get install systemd)"
  # Nothing but D-Bus (its own units, without their usual dependencies on sysinit.target)
  # and this unit starts: no journald, udev or getty.
  cat > "$P/sa/berth-vm.target" <<'UNIT'
[Unit]
Description=cgroup2-vm: the program
AllowIsolate=yes
DefaultDependencies=no
Wants=berth-vm.service dbus.socket dbus.service
UNIT
  printf '[Unit]\nDefaultDependencies=no\n' > "$P/sa/no-default-dependencies.conf"
  cat > "$P/sa/berth-vm.service" <<'UNIT'
[Unit]
Description=cgroup2-vm: the program
DefaultDependencies=no
After=dbus.service
[Service]
Type=oneshot
ExecStart=/bin/bash /run/sa/systemd-run.sh
StandardInput=null
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0
UNIT
  cat > "$P/sa/systemd-run.sh" <<'GUEST'
. /run/sa/config
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
stty -onlcr 2>/dev/null
echo "@@CGROUP2VM:$SA_NONCE:BEGIN@@"
bash /run/sa/run.sh </dev/null 2>&1
rc=$?
printf '\n@@CGROUP2VM:%s:EXIT=%d@@\n' "$SA_NONCE" "$rc"
if [ "$SA_DMESG" = 1 ]; then echo "@@CGROUP2VM:$SA_NONCE:DMESG@@"; dmesg; echo "@@CGROUP2VM:$SA_NONCE:END@@"; fi
sync
/bin/busybox poweroff -f
GUEST
fi
: > "$P/sa/shares"
QSHARE=()
n=0
for d in "${SHARES[@]+"${SHARES[@]}"}"; do
  echo "share$n $d" >> "$P/sa/shares"
  QSHARE+=(-fsdev "local,id=fs$n,path=$d,security_model=none" -device "virtio-9p-pci,fsdev=fs$n,mount_tag=share$n")
  n=$((n+1))
done
if [ "$SYSTEMD" != 0 ]; then
  QSHARE+=(-fsdev "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap" -device "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot")
fi
{
  echo "cd $(printf '%q' "$CWD") 2>/dev/null || { mkdir -p $(printf '%q' "$CWD") && cd $(printf '%q' "$CWD"); }"
  for kv in "${ENVS[@]+"${ENVS[@]}"}"; do echo "export $(printf '%q' "$kv")"; done
  printf 'exec %q' "$EXE"; for a in "$@"; do printf ' %q' "$a"; done; echo
} > "$P/sa/run.sh"
(cd "$P" && find . | "$BUSYBOX" cpio -o -H newc 2>/dev/null) > "$WORK/payload.cpio"
cat "$BASE" "$WORK/payload.cpio" > "$WORK/initrd.cpio"

# ---------- accelerator / machine ----------
ACCEL="${CGROUP2_VM_ACCEL:-auto}"
if [ "$ACCEL" = auto ]; then
  ACCEL=tcg
  if [ -r /dev/kvm ] && [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo && [ ! -d /sys/module/kvm_pvm ]; then ACCEL=kvm; fi
fi
if [ "$ACCEL" = kvm ]; then QACCEL=(-accel kvm -cpu host); else QACCEL=(-accel tcg,thread=multi -cpu max); fi
# -M pc (i440fx): it has HPET + ACPI PM timer. -M microvm boots ~0.5 s faster but has neither, and
# under TCG on a loaded host the guest's PIT calibration fails and the boot hangs (seen here).
# A vmlinux ELF is booted through its PVH entry (no in-guest decompression, ~3 s faster under TCG).
MACHINE=(-M pc)

case $SYSTEMD in
  0|1) V1=cgroup_no_v1=all ;;
  2) V1="systemd.unified_cgroup_hierarchy=0 systemd.legacy_systemd_cgroup_controller=0" ;;
esac
APPEND="console=ttyS0 panic=-1 quiet loglevel=1 $V1 rdinit=/init ${CGROUP2_VM_CMDLINE_EXTRA:-}"
# systemd's own status lines would interleave with the program's output.
[ "$SYSTEMD" != 0 ] && APPEND="$APPEND systemd.show_status=0 systemd.log_level=warning"
log "kernel=$KIMG accel=$ACCEL machine=${MACHINE[1]} mem=$MEM cpus=$CPUS"

# ---------- run ----------
# mawk (Debian's default awk) reads pipes in blocks unless -W interactive: output would only show at the end
AWKOPT=(); if awk -W version 2>/dev/null | grep -q mawk; then AWKOPT=(-W interactive); fi
BOOT_TIMEOUT="${CGROUP2_VM_BOOT_TIMEOUT:-60}"
attempt=0
while :; do
  attempt=$((attempt+1))
  rm -f "$WORK/rc" "$WORK/started" "$WORK/boot-timeout" "$WORK/qemu.status"
  set +e
  {
    timeout -k 5 "$TIMEOUT" qemu-system-x86_64 "${MACHINE[@]}" "${QACCEL[@]}" -smp "$CPUS" -m "$MEM" \
      -nodefaults -no-user-config -display none -monitor none -serial stdio -no-reboot \
      -kernel "$KIMG" -initrd "$WORK/initrd.cpio" -append "$APPEND" "${QSHARE[@]+"${QSHARE[@]}"}" \
      </dev/null 2>"$WORK/qemu.err" &
    qpid=$!
    # boot watchdog: no BEGIN marker within BOOT_TIMEOUT s -> kill this attempt (retried once below)
    ( for _ in $(seq 1 "$BOOT_TIMEOUT"); do sleep 1; [ -e "$WORK/started" ] && exit 0; kill -0 "$qpid" 2>/dev/null || exit 0; done
      : > "$WORK/boot-timeout"; kill "$qpid" ) </dev/null >/dev/null 2>&1 &
    wpid=$!
    wait "$qpid"; echo $? > "$WORK/qemu.status"
    kill "$wpid" 2>/dev/null; wait "$wpid" 2>/dev/null
  } |
  awk "${AWKOPT[@]+"${AWKOPT[@]}"}" -v nonce="$NONCE" -v rcfile="$WORK/rc" -v startfile="$WORK/started" \
      -v verbose="${CGROUP2_VM_VERBOSE:-0}" -v conlog="$WORK/console.log" '
    BEGIN { b = "@@CGROUP2VM:" nonce ":BEGIN@@"; e = "@@CGROUP2VM:" nonce ":EXIT="; d = "@@CGROUP2VM:" nonce ":DMESG@@"; z = "@@CGROUP2VM:" nonce ":END@@" }
    { line = $0; sub(/\r$/, "", line); print line > conlog; if (verbose == 1) { print line > "/dev/stderr"; fflush("/dev/stderr") } }
    state == 0 && line == b { state = 1; have = 0; printf "" > startfile; close(startfile); next }
    state == 1 && index(line, e) == 1 {
       if (have) printf "%s", prev; fflush()
       rc = substr(line, length(e) + 1); sub(/@@$/, "", rc); print rc > rcfile; close(rcfile); state = 2; next }
    state == 1 { if (have) print prev; fflush(); prev = $0; have = 1; next }
    state == 2 && line == d { state = 3; next }
    state == 3 && line == z { state = 4; next }
    state == 3 { print line > "/dev/stderr"; fflush("/dev/stderr") }
  '
  set -e
  if [ -s "$WORK/rc" ]; then exit "$(cat "$WORK/rc")"; fi
  if [ -e "$WORK/boot-timeout" ]; then
    echo "cgroup2-vm: guest did not reach the program within ${BOOT_TIMEOUT}s (attempt $attempt); console tail:" >&2
    tail -5 "$WORK/console.log" >&2 2>/dev/null || true
    [ "$attempt" -lt 2 ] && continue
    exit 125
  fi
  break
done
qst=$(cat "$WORK/qemu.status" 2>/dev/null || echo '?')
if [ "$qst" = 124 ] || [ "$qst" = 137 ]; then
  echo "cgroup2-vm: timed out after ${TIMEOUT}s; last console lines:" >&2; tail -20 "$WORK/console.log" >&2 || true; exit 124
fi
echo "cgroup2-vm: VM ended without an exit marker (qemu status $qst); console tail:" >&2
tail -30 "$WORK/console.log" >&2 || true; cat "$WORK/qemu.err" >&2 || true
exit 125
