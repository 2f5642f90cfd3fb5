#!/usr/bin/env python3
"""Copies kernel modules and their dependencies into an initramfs tree.

Usage: guest-modules.py MODULES_DIR OUT_DIR NAME...

MODULES_DIR is an unpacked kernel's lib/modules/<version>. Debian ships no
modules.dep (depmod makes it at install time), so dependencies are read from
each module's .modinfo "depends=" field. Modules are written uncompressed
(busybox insmod reads plain ELF) to OUT_DIR/lib/modules/, and their load
order, dependencies first, to OUT_DIR/lib/modules/load-order. A name with no
module file is built into the kernel and skipped.
"""
import lzma
import os
import re
import subprocess
import sys


def index(modules_dir):
    found = {}
    for root, _, files in os.walk(os.path.join(modules_dir, "kernel")):
        for f in files:
            m = re.match(r"(.+)\.ko(\.xz|\.zst|\.gz)?$", f)
            if m:
                found[m.group(1).replace("-", "_")] = os.path.join(root, f)
    return found


def read(path):
    if path.endswith(".xz"):
        with lzma.open(path) as f:
            return f.read()
    if path.endswith(".zst"):
        return subprocess.run(["zstd", "-dc", path], check=True, capture_output=True).stdout
    if path.endswith(".gz"):
        import gzip
        with gzip.open(path) as f:
            return f.read()
    with open(path, "rb") as f:
        return f.read()


def depends(image):
    m = re.search(rb"\x00depends=([^\x00]*)\x00", image)
    if not m or not m.group(1):
        return []
    return [d.decode().replace("-", "_") for d in m.group(1).split(b",")]


def main():
    modules_dir, out_dir, names = sys.argv[1], sys.argv[2], sys.argv[3:]
    known = index(modules_dir)
    dest = os.path.join(out_dir, "lib", "modules")
    os.makedirs(dest, exist_ok=True)
    order, done = [], set()

    def visit(name, chain):
        name = name.replace("-", "_")
        if name in done:
            return
        if name in chain:
            sys.exit(f"guest-modules: dependency cycle through {name}")
        if name not in known:
            done.add(name)  # built in
            return
        image = read(known[name])
        for dep in depends(image):
            visit(dep, chain | {name})
        with open(os.path.join(dest, name + ".ko"), "wb") as f:
            f.write(image)
        done.add(name)
        order.append(name)

    for n in names:
        visit(n, frozenset())
    with open(os.path.join(dest, "load-order"), "w") as f:
        f.write("".join(n + "\n" for n in order))
    print(" ".join(order))


if __name__ == "__main__":
    main()
