# bench/lib.sh — helpers the bench scripts source.

# median: the median of the numbers on stdin, one a line.
median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# chart_preamble FILE WIDTH HEIGHT PANELS: gnuplot's set-up for an SVG of PANELS clustered bar
# charts side by side; the caller's gnuplot script follows with a title and a plot per panel.
chart_preamble() {
  cat <<EOF
set terminal svg size $2,$3 font "sans,11" background rgb "white"
set output "$1"
set multiplot layout 1,$4
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set grid ytics
set yrange [0:*]
set key below
EOF
}

# private_work_dir: inside the scripts' private network and mount namespace, loopback up,
# a cgroup2 /sys/fs/cgroup/unified unmounted (crun 1.8 refuses hybrid hosts whose cgroup2
# has controllers), and W=$OUT/work made an ext4 of its own with mkfs's defaults (with a
# journal, as distributions make them; this host's root is ext4 without one, where each new
# inode scans the inodes deleted in the last minute: a long run of starts slowed as it went,
# docs/BENCHMARKS.md). Exports W; the caller unmounts it and removes $OUT/fs.img.
private_work_dir() {
  ip link set lo up
  if [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then umount /sys/fs/cgroup/unified; fi
  W=$OUT/work
  mkdir -p "$W"
  truncate -s 16G "$OUT/fs.img" && mkfs.ext4 -q -F "$OUT/fs.img" && mount -o loop "$OUT/fs.img" "$W"
  export W
}


# busybox_rootfs DIR [SUBDIR...]: a root file system at DIR of Debian's busybox-static with
# every applet linked, a passwd with root and nobody, and SUBDIRs made besides the usual.
busybox_rootfs() {
  local r=$1 d a
  shift
  mkdir -p "$r"/{bin,etc,tmp,root,proc,sys,dev}
  for d in "$@"; do mkdir -p "$r/$d"; done
  cp /bin/busybox "$r/bin/busybox"
  for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$r/bin/$a"; done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$r/etc/passwd"
}
