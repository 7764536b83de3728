#!/usr/bin/env python3
"""Writes the small seed corpora in fuzz/corpus/<target>/ (committed; rerun to regenerate).
Valid files of each format plus a few truncated/edge variants; ONNX seeds are small models from
$EDGEQ_SHARED/assets/onnx_node_tests (copied when present)."""
import gzip, io, os, shutil, struct, sys, zipfile

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
shared = os.environ.get("EDGEQ_SHARED", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared"))

def put(target, name, data):
    d = os.path.join(root, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

def gstr(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b

def gguf(kvs, tensors, align=32):
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    for k, t, v in kvs:
        out += gstr(k) + struct.pack("<I", t) + v
    off, data = 0, b""
    for name, ne, typ, payload in tensors:
        out += gstr(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<q", n) for n in ne)
        out += struct.pack("<IQ", typ, off)
        data += payload + b"\0" * (-len(payload) % align)
        off = len(data)
    out += b"\0" * (-len(out) % align)
    return out + data

kvs = [("general.architecture", 8, gstr("llama")), ("general.alignment", 4, struct.pack("<I", 32)),
       ("a.u8s", 9, struct.pack("<IQ", 0, 3) + b"\1\2\3"), ("a.strs", 9, struct.pack("<IQ", 8, 2) + gstr("x") + gstr("yz")),
       ("f", 6, struct.pack("<f", 1.5)), ("b", 7, b"\1"), ("i64", 11, struct.pack("<q", -7))]
f32 = struct.pack("<8f", *range(8))
q8_0 = struct.pack("<e", 0.5) + bytes(range(32))  # one Q8_0 block (type 8), 32 values
g1 = gguf(kvs, [("t.f32", [4, 2], 0, f32), ("t.q8", [32], 8, q8_0)])
put("gguf", "kv_and_tensors.gguf", g1)
put("gguf", "metadata_only.gguf", gguf(kvs[:2], []))
put("gguf", "truncated.gguf", g1[:len(g1) - 9])

def npy(descr, shape, payload, version=1):
    h = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)
    pre = 10 if version == 1 else 12
    h += " " * (-(pre + len(h) + 1) % 64) + "\n"
    ln = struct.pack("<H", len(h)) if version == 1 else struct.pack("<I", len(h))
    return b"\x93NUMPY" + bytes([version, 0]) + ln + h.encode() + payload

n1 = npy("<f4", "(2, 3)", struct.pack("<6f", *range(6)))
n2 = npy("|u1", "(4,)", b"abcd", 2)
n3 = npy("<i8", "()", struct.pack("<q", 5))
for i, n in enumerate([n1, n2, n3, npy("|b1", "(0, 5)", b"")]):
    put("npy", "a%d.npy" % i, n)

for name, method in [("stored.npz", zipfile.ZIP_STORED), ("deflated.npz", zipfile.ZIP_DEFLATED)]:
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w", method) as z:
        z.writestr("images.npy", n1)
        z.writestr("labels.npy", n2)
    put("npz", name, bio.getvalue())

def idx(dims, payload):
    return bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload

put("idx", "images.idx", idx([2, 3, 3], bytes(range(18))))
put("idx", "labels.idx", idx([5], bytes([1, 2, 3, 4, 5])))
put("idx", "images.idx.gz", gzip.compress(idx([2, 2, 2], bytes(range(8))), mtime=0))

# llama2.c: u16 checkpoint length, checkpoint (dim 8, hidden 8, 1 layer, 2 heads, vocab 4, seq 4), tokenizer.
D, H, L, V, S, hs, kv = 8, 8, 1, 4, 4, 4, 8
nf = V * D + L * (D + D * D + 2 * kv * D + D * D + D + 3 * H * D) + D + S * hs
for shared_cls in (True, False):
    ck = struct.pack("<7i", D, H, L, 2, 2, V if shared_cls else -V, S) + struct.pack("<%df" % nf, *([0.25] * nf))
    if not shared_cls:
        ck += struct.pack("<%df" % (V * D), *([0.5] * (V * D)))
    tok = struct.pack("<i", 8) + b"".join(struct.pack("<fi", -i, len(t)) + t for i, t in
                                          enumerate([b"<unk>", b"\n<s>\n", b"\n</s>\n", b" a"]))
    put("llama2c", "tiny_%s.bin" % ("shared" if shared_cls else "unshared"), struct.pack("<H", len(ck)) + ck + tok)

src = os.path.join(shared, "assets", "onnx_node_tests", "onnx-git-quant-subset")
if os.path.isdir(src):
    os.makedirs(os.path.join(root, "onnx"), exist_ok=True)
    picked = 0
    for t in sorted(os.listdir(src)):
        p = os.path.join(src, t, "model.onnx")
        if os.path.isfile(p) and os.path.getsize(p) < 1024 and picked < 12:
            shutil.copy(p, os.path.join(root, "onnx", t + ".onnx"))
            picked += 1
else:
    print("no ONNX seeds: %s missing" % src, file=sys.stderr)
