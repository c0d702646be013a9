#!/usr/bin/env python3
"""bench/layers.py DIR — writes the six layer tars that bench/pull.sh stacks on the Debian
base to make its multi-layer image: layers of different sizes, two adding thousands of small
files, one overwriting files of the base, one deleting with whiteouts (single files and an
opaque directory). The content is the same at every run (fixed seeds), so are the digests.
"""
import io
import random
import sys
import tarfile

MTIME = 1_700_000_000


def add(tar, name, data=b"", mode=0o644, kind=tarfile.REGTYPE):
    info = tarfile.TarInfo(name)
    info.mtime = MTIME
    info.mode = mode
    info.type = kind
    if kind == tarfile.REGTYPE:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    else:
        tar.addfile(info)


def directory(tar, name):
    add(tar, name, mode=0o755, kind=tarfile.DIRTYPE)


def text(rng, size):
    """Compressible text, as configuration files, scripts and documentation are."""
    words = [b"container", b"layer", b"kernel", b"berth", b"overlay", b"image", b"digest",
             b"namespace", b"cgroup", b"runtime", b"\n", b"=", b"/usr/lib", b"0x1f"]
    out = bytearray()
    while len(out) < size:
        out += rng.choice(words) + b" "
    return bytes(out[:size])


def small_files(path, seed, dirs, per_dir):
    rng = random.Random(seed)
    with tarfile.open(path, "w") as tar:
        for d in ["usr", "usr/share", f"usr/share/bench{seed}"]:
            directory(tar, d)
        for i in range(dirs):
            base = f"usr/share/bench{seed}/d{i:03}"
            directory(tar, base)
            for j in range(per_dir):
                add(tar, f"{base}/f{j:03}.txt", text(rng, rng.randint(100, 4000)))


def big_files(path, seed, count, size, random_part):
    """`count` files of `size` bytes, `random_part` of each incompressible."""
    rng = random.Random(seed)
    with tarfile.open(path, "w") as tar:
        for d in ["opt", f"opt/blob{seed}"]:
            directory(tar, d)
        for i in range(count):
            noise = rng.randbytes(int(size * random_part))
            add(tar, f"opt/blob{seed}/part{i:02}.bin", noise + text(rng, size - len(noise)))


def overwrite(path):
    rng = random.Random(5)
    with tarfile.open(path, "w") as tar:
        directory(tar, "etc")
        for name in ["etc/hostname", "etc/motd", "etc/issue", "etc/bash.bashrc"]:
            add(tar, name, text(rng, 600))
        directory(tar, "usr")
        directory(tar, "usr/local")
        directory(tar, "usr/local/bin")
        for i in range(40):
            add(tar, f"usr/local/bin/tool{i:02}", b"#!/bin/sh\n" + text(rng, 2000), 0o755)


def whiteouts(path):
    """Deletes documentation of the base (an opaque directory) and files of layer 1."""
    with tarfile.open(path, "w") as tar:
        for d in ["usr", "usr/share", "usr/share/doc", "usr/share/bench1",
                  "usr/share/bench1/d000"]:
            directory(tar, d)
        add(tar, "usr/share/doc/.wh..wh..opq")
        add(tar, "usr/share/doc/README.bench", b"documentation removed\n")
        add(tar, "usr/share/.wh.man")
        for j in range(0, 50, 2):
            add(tar, f"usr/share/bench1/d000/.wh.f{j:03}.txt")
        add(tar, "usr/share/bench1/.wh.d001")


def main():
    out = sys.argv[1]
    small_files(f"{out}/1.tar", 1, 100, 50)      # 5,000 small files
    big_files(f"{out}/2.tar", 2, 1, 40 << 20, 0.75)  # one 40 MiB file, mostly random
    small_files(f"{out}/3.tar", 3, 40, 50)       # 2,000 more
    big_files(f"{out}/4.tar", 4, 12, 2 << 20, 0.5)   # a dozen 2 MiB files
    overwrite(f"{out}/5.tar")
    whiteouts(f"{out}/6.tar")


if __name__ == "__main__":
    main()
