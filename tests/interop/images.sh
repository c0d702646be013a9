#!/usr/bin/env bash
# images.sh DIR — a busybox image built locally (Debian's busybox-static, no registry) as
#   DIR/busybox.docker.tar  docker-archive tagged localhost/busybox:latest, which
#                           `podman load`, `ctr images import` and `docker load` all accept;
#   DIR/pause.docker.tar    the same files as localhost/pause:latest, whose command sleeps
#                           forever: the CRI pod sandbox image.
# The image has every applet linked, /etc/passwd and /var/www/index.html for httpd.
set -euo pipefail
D=${1:?usage: images.sh DIR}
[ -f "$D/busybox.docker.tar" ] && exit 0
R=$D/rootfs
rm -rf "$R" "$D/oci"; mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,proc,sys,dev,root,var/www}
chmod 1777 "$R/tmp"
cp /bin/busybox "$R/bin/busybox"
/bin/busybox --list-full | while read -r p; do
  [ "$p" = bin/busybox ] || ln -sf /bin/busybox "$R/$p"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$R/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$R/etc/group"
echo 'hello from berth busybox' >"$R/var/www/index.html"
tar -C "$R" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$D/busybox.tar" .
L=$D/oci
umoci init --layout "$L"
umoci new --image "$L:latest"
umoci raw add-layer --image "$L:latest" "$D/busybox.tar"
umoci config --image "$L:latest" --os linux --architecture amd64 --config.cmd /bin/sh \
  --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
umoci config --image "$L:latest" --tag pause --config.cmd sleep --config.cmd 2147483647
umoci gc --layout "$L"
skopeo copy -q "oci:$L:pause" "docker-archive:$D/pause.docker.tar:localhost/pause:latest"
skopeo copy -q "oci:$L:latest" "docker-archive:$D/busybox.docker.tar.new:localhost/busybox:latest"
mv "$D/busybox.docker.tar.new" "$D/busybox.docker.tar"
rm -rf "$R" "$D/busybox.tar" "$L"
