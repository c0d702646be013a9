#!/bin/bash
# fake-driver.sh ROOT: an NVIDIA driver's footprint under ROOT, for the GPU discovery tests
# (no GPU in CI): driver 550.54.14 with two GPUs as its kernel module lists them, device
# nodes made with mknod (stand-ins with the numbers of /dev/net/tun, /dev/fuse, /dev/null and
# /dev/zero, devices a container may open), the libraries as real ELF shared objects with
# their sonames in ROOT/etc/ld.so.cache (built by ldconfig -r), a library of another driver
# version that must be left out, and nvidia-smi as a shell script. Needs root (mknod, chroot).
set -euo pipefail
root=$1
version=550.54.14
mkdir -p "$root"/{sys/module/nvidia,dev,etc,usr/bin,usr/lib/nvidia,run/nvidia-persistenced}
echo "$version" > "$root/sys/module/nvidia/version"
gpu() {  # gpu BUS MINOR UUID
  mkdir -p "$root/proc/driver/nvidia/gpus/$1"
  printf 'Model: \t\t NVIDIA H200\nIRQ: \t\t 42\nGPU UUID: \t %s\nVideo BIOS: \t 96.00.a1.00.01\nBus Type: \t PCIe\nDevice Minor: \t %s\nBus Location: \t %s\n' \
    "$3" "$2" "$1" > "$root/proc/driver/nvidia/gpus/$1/information"
}
# Listed out of bus order: the index follows the bus, as NVML's does.
gpu 0000:c1:00.0 1 GPU-22222222-2222-2222-2222-222222222222
gpu 0000:41:00.0 0 GPU-11111111-1111-1111-1111-111111111111
mknod -m 0666 "$root/dev/nvidia0" c 10 200
mknod -m 0666 "$root/dev/nvidia1" c 10 229
mknod -m 0666 "$root/dev/nvidiactl" c 1 3
mknod -m 0666 "$root/dev/nvidia-uvm" c 1 5
lib() {  # lib NAME SONAME VERSION
  echo "int $(echo "$1" | tr -c 'a-z0-9\n' _)(void) { return 0; }" > "$root/lib.c"
  cc -shared -fPIC -Wl,-soname,"$2" -o "$root/usr/lib/nvidia/$1.so.$3" "$root/lib.c"
  ln -sf "$1.so.$3" "$root/usr/lib/nvidia/$2"
}
lib libcuda libcuda.so.1 "$version"
lib libnvidia-ml libnvidia-ml.so.1 "$version"
lib libnvidia-ptxjitcompiler libnvidia-ptxjitcompiler.so.1 "$version"
# Another driver's leftover: its file does not carry this driver's version.
lib libnvidia-cfg libnvidia-cfg.so.1 535.00.00
rm -f "$root/lib.c"
echo /usr/lib/nvidia > "$root/etc/ld.so.conf"
ldconfig -r "$root"
cat > "$root/usr/bin/nvidia-smi" <<'SMI'
#!/bin/sh
echo "NVIDIA-SMI stand-in"
ls /dev | grep nvidia
SMI
chmod 755 "$root/usr/bin/nvidia-smi"
: > "$root/run/nvidia-persistenced/socket"
