#!/usr/bin/env python3
"""size_report.py - flash/RAM footprint and static worst-case stack of the device
build (core + libsodium + port + stream store), checked against the budgets of
device/CMakeLists.txt.

Sizes: arm-none-eabi-size of every object in the static libraries (before the
linker's garbage collection), and the linked footprint image (after it), which
is what the flash budget checks: the per-object sum counts every function of
every object whether a firmware calls it or not.

Stack: GCC's -fcallgraph-info=su files (.ci, one per object): every function's own
frame and its calls. The worst case of a function is its frame plus the worst of
its callees. Calls through a function pointer ("__indirect_call") are, in the core,
calls through the evolu_port table: they are bounded by the deepest entry of the
device port table. Calls into newlib/libgcc (memcpy, memset, __aeabi_*) are leaves
with small frames; LIBC_LEAF bytes are added for them. Recursion would make the
bound infinite and is reported as an error.
Exit status: 0 if within budget, 1 otherwise.
"""
import argparse
import glob
import os
import re
import subprocess
import sys

LIBC_LEAF = 64  # bytes: newlib's memcpy/memset/memcmp/strlen and libgcc helpers
EXC_FRAME = 104  # an exception stacked with the FP context (26 words)
# Recursions the core bounds by a constant: (object, function) -> (macro, header).
# The function's frame is counted that many times. Any other recursion is an error.
# Paths are relative to the source root (--root), as -fstack-usage names them.
RECURSION_BOUNDS = {
    ("json_decode.c.ci", "{root}/src/core/json_decode.c:run"):
        ("EVOLU_JSON_MAX_SLOW_MAPS", "src/core/json_internal.h"),
}
PORT_ENTRIES = ["aead_encrypt", "aead_decrypt", "sha256", "hmac_sha512", "random_buf",
                "now_ms", "memzero", "memeq"]

ap = argparse.ArgumentParser()
ap.add_argument("--size", required=True)
ap.add_argument("--build", required=True)
ap.add_argument("--flash-budget", type=int, required=True)
ap.add_argument("--ram-budget", type=int, required=True)
ap.add_argument("--image", required=True)
ap.add_argument("--lib", action="append", default=[])
ap.add_argument("--root", required=True)
a = ap.parse_args()


def size_rows(path):
    out = subprocess.run([a.size, "-B", path], check=True, capture_output=True,
                         text=True).stdout
    rows = []
    for line in out.splitlines()[1:]:
        f = line.split()
        if len(f) >= 6 and f[0].isdigit():
            name = os.path.basename(f[5])
            rows.append((name.replace(".obj", ""), int(f[0]), int(f[1]), int(f[2])))
    return rows


ok = True
print("== device size report (arm-none-eabi, -Os; per object, before --gc-sections)")
print(f"{'module':<10} {'object':<28} {'text':>7} {'data':>6} {'bss':>6}")
tot = [0, 0, 0]
for spec in a.lib:
    mod, path = spec.split("=", 1)
    mt = [0, 0, 0]
    for name, t, d, b in size_rows(path):
        print(f"{mod:<10} {name:<28} {t:>7} {d:>6} {b:>6}")
        mt = [mt[0] + t, mt[1] + d, mt[2] + b]
    print(f"{mod:<10} {'= ' + mod + ' total':<28} {mt[0]:>7} {mt[1]:>6} {mt[2]:>6}")
    tot = [tot[0] + mt[0], tot[1] + mt[1], tot[2] + mt[2]]
print(f"{'TOTAL':<10} {'all objects, before gc':<28} {tot[0]:>7} {tot[1]:>6} {tot[2]:>6}")
img = size_rows(a.image)[0]
print(f"{'image':<10} {'footprint (linked, gc)':<28} {img[1]:>7} {img[2]:>6} {img[3]:>6}"
      "   (core + crypto + port + stream store + startup, nano newlib, rdimon)")
stream_text = sum(m[1] + m[2] for spec in a.lib if spec.startswith("stream=")
                  for m in size_rows(spec.split("=", 1)[1]))
print(f"stream store: {stream_text} B of flash (text + data, all objects)")

# --- stack -------------------------------------------------------------------
node_re = re.compile(r'node: \{ title: "([^"]+)" label: "([^"]*)"')
edge_re = re.compile(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"')
frames = {}      # (file, fn) -> bytes
qualifier = {}   # (file, fn) -> static/dynamic...
calls = {}       # (file, fn) -> [callee names]
defined_in = {}  # fn -> [files]
for ci in glob.glob(os.path.join(a.build, "CMakeFiles", "*", "**", "*.ci"), recursive=True):
    if not re.search(r"/(evolu_core|evolu_sodium|evolu_port_device|evolu_stream)\.dir/", ci):
        continue
    f = os.path.basename(ci)
    for line in open(ci, encoding="utf-8", errors="replace"):
        m = node_re.search(line)
        if m:
            sm = re.search(r"\\n(\d+) bytes \(([^)]*)\)", m.group(2))
            if sm:
                frames[(f, m.group(1))] = int(sm.group(1))
                qualifier[(f, m.group(1))] = sm.group(2)
                defined_in.setdefault(m.group(1), []).append(f)
            continue
        m = edge_re.search(line)
        if m:
            calls.setdefault((f, m.group(1)), []).append(m.group(2))

port_keys = [(f, n) for (f, n) in frames if f.startswith("port_device") and n in PORT_ENTRIES]
memo, cycles, unknown = {}, [], set()


def resolve(f, name):
    if (f, name) in frames:
        return (f, name)
    files = defined_in.get(name)
    return (files[0], name) if files else None


def macro_value(name, header):
    for hdr in (header, "include/evolu/json.h"):
        path = os.path.join(a.root, hdr)
        if os.path.exists(path):
            m = re.search(r"#define\s+" + name + r"\s+(\d+)", open(path).read())
            if m:
                return int(m.group(1))
    return None


bounded = {}
for (f, fn), (macro, header) in RECURSION_BOUNDS.items():
    key = (f, fn.replace("{root}", a.root))
    v = macro_value(macro, header)
    if key in frames and v:
        bounded[key] = (macro, v + 1)


def worst(key, stack):
    if key in memo:
        return memo[key]
    if key in bounded and key in stack and stack[-1] == key:
        return (0, [])  # counted through the multiplied frame below
    if key in stack:
        cycles.append(" -> ".join(k[1] for k in stack[stack.index(key):]) + " -> " + key[1])
        return (0, [])
    stack.append(key)
    best = (0, [])
    for callee in set(calls.get(key, [])):
        if callee == "__indirect_call":
            for pk in port_keys:
                w = worst(pk, stack)
                if w[0] > best[0]:
                    best = (w[0], ["(port)"] + w[1])
            continue
        ck = resolve(key[0], callee)
        if ck is None:
            unknown.add(callee)
            if LIBC_LEAF > best[0]:
                best = (LIBC_LEAF, [callee])
            continue
        w = worst(ck, stack)
        if w[0] > best[0]:
            best = w
    stack.pop()
    own = frames[key] * (bounded[key][1] if key in bounded else 1)
    r = (own + best[0], [key[1] + (f" (x{bounded[key][1]}, {bounded[key][0]})"
                                   if key in bounded else "")] + best[1])
    memo[key] = r
    return r


results = sorted(((worst(k, []), k) for k in frames), key=lambda x: -x[0][0])
dynamic = [k for k, q in qualifier.items() if q != "static"]
print("== static worst-case stack (-fcallgraph-info=su), deepest chains")
seen = 0
for (depth, chain), key in results:
    if not key[0].startswith(("port_device", "board")) and seen < 8:
        print(f"{depth:>6} B  {' > '.join(chain)}")
        seen += 1
core_keys = [r for r in results if r[1][0] not in () and
             re.search(r"/evolu_core\.dir/", "") is None]
worst_core = max((r for r in results if not r[1][0].startswith(("port_device", "board"))),
                 key=lambda r: r[0][0])
bound = worst_core[0][0] + EXC_FRAME
print(f"worst case: {worst_core[0][0]} B ({worst_core[1][1]}), bound with an exception "
      f"frame: {bound} B")
print(f"largest frames: " + ", ".join(f"{n} {frames[(f, n)]}" for f, n in
                                      sorted(frames, key=lambda k: -frames[k])[:6]))
print(f"library leaves counted as {LIBC_LEAF} B: {', '.join(sorted(unknown)) or '-'}")
if dynamic:
    print("ERROR: frames that are not static: " + ", ".join(f"{n} ({qualifier[(f, n)]})"
                                                           for f, n in dynamic))
    ok = False
if cycles:
    print("ERROR: recursion, no static bound: " + "; ".join(sorted(set(cycles))))
    ok = False

flash = img[1] + img[2]
ram = tot[1] + tot[2] + bound
stream_keys = [r for r in results if re.match(r"stream_", r[1][0])]
if stream_keys:
    sw = max(stream_keys, key=lambda r: r[0][0])
    print(f"stream store: deepest {sw[0][0]} B ({' > '.join(sw[0][1])})")
print("== budgets")
print(f"flash: {flash} B of {a.flash_budget} B (text + data of the linked image)  "
      f"{'OK' if flash <= a.flash_budget else 'OVER BUDGET'}")
print(f"RAM:   {ram} B of {a.ram_budget} B (data + bss + worst stack)  "
      f"{'OK' if ram <= a.ram_budget else 'OVER BUDGET'}")
ok = ok and flash <= a.flash_budget and ram <= a.ram_budget
sys.exit(0 if ok else 1)
