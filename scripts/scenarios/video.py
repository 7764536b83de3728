#!/usr/bin/env python3
"""Helpers for scenario (b) of scripts/scenarios.sh (edge video, ultraface 320x240); Python standard library only.

  video.py frames OUT.npy N SEED     N synthetic 320x240 RGB frames as uint8 .npy [N, 3, 240, 320]: a two-colour
                                     gradient background, 1-3 drawn faces (skin ellipse with hair, eyes, brows, nose,
                                     mouth, shading), +-6 pixel noise; seeded (random.Random), so byte-identical reruns.
  video.py floats IN.npy DIR         each frame as DIR/frameNNN.npy, float32 [1, 3, 240, 320] = (pixel - 127) / 128
                                     (ultraface's preprocessing), for `edgeq run`.
  video.py agree REF_DIR MODEL_DIR N detection agreement of MODEL with REF over N frames whose `edgeq run` outputs
                                     are in <DIR>/frameNNN/{scores,boxes}.npy; prints one JSON object.
Detections: face score > 0.7, greedy NMS at IoU 0.3 (ultraface's demo defaults). Agreement: each REF detection is
matched to the best unmatched MODEL detection with IoU >= 0.5; recall = matched / REF detections, precision =
matched / MODEL detections, plus mean IoU and mean |score difference| of the matched pairs.
"""
import array, json, random, struct, sys

H, W = 240, 320


def npy_header(descr, shape):
    h = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (descr, ", ".join(map(str, shape)))
    h += " " * (63 - (10 + len(h)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode()


def npy_body(path):
    d = open(path, "rb").read()
    hl = struct.unpack("<H", d[8:10])[0]
    return d[10:10 + hl].decode(), d[10 + hl:]


def frames(path, n, seed):
    rnd = random.Random(seed)
    with open(path, "wb") as o:
        o.write(npy_header("|u1", (n, 3, H, W)))
        for _ in range(n):
            c0 = [rnd.randint(20, 200) for _ in range(3)]
            c1 = [rnd.randint(20, 200) for _ in range(3)]
            img = [[[int(c0[ch] * (1 - y / (H - 1)) + c1[ch] * y / (H - 1))] * W for y in range(H)] for ch in range(3)]
            faces = []
            for _ in range(rnd.randint(1, 3)):
                fw = rnd.randint(40, 90)
                fh = int(fw * 1.3)
                cx = rnd.randint(fw // 2 + 2, W - fw // 2 - 3)
                cy = rnd.randint(fh // 2 + 2, H - fh // 2 - 3)
                skin = [rnd.randint(170, 240), rnd.randint(120, 180), rnd.randint(90, 150)]
                faces.append((cx, cy, fw, fh, skin, [rnd.randint(10, 80)] * 3))
            for cx, cy, fw, fh, skin, hair in faces:
                a, b = fw / 2, fh / 2
                for y in range(max(0, int(cy - b - fh * 0.1)), min(H, int(cy + b) + 1)):
                    for x in range(max(0, int(cx - a - 2)), min(W, int(cx + a) + 3)):
                        dx, dy = (x - cx) / a, (y - cy) / b
                        r = dx * dx + dy * dy
                        col = None
                        if r <= 1.0:
                            col = skin
                            if dy < -0.55:
                                col = hair
                            for ex in (-0.38, 0.38):
                                if ((dx - ex) / 0.16) ** 2 + ((dy + 0.15) / 0.08) ** 2 <= 1:
                                    col = (30, 25, 20)  # eye
                                if abs(dx - ex) < 0.2 and -0.33 < dy < -0.28:
                                    col = hair  # brow
                            if abs(dx) < 0.06 and -0.1 < dy < 0.2:
                                col = [int(c * 0.8) for c in skin]  # nose
                            if (dx / 0.3) ** 2 + ((dy - 0.45) / 0.08) ** 2 <= 1:
                                col = (150, 50, 50)  # mouth
                            col = [int(c * (1.0 - 0.25 * r)) for c in col]
                        elif (dx / 1.08) ** 2 + ((dy + 0.12) / 1.05) ** 2 <= 1.0 and dy < 0.1:
                            col = hair
                        if col is not None:
                            for ch in range(3):
                                img[ch][y][x] = col[ch]
            for ch in range(3):
                o.write(bytes(bytearray(min(255, max(0, v + rnd.randint(-6, 6))) for row in img[ch] for v in row)))


def floats(src, outdir):
    hdr, body = npy_body(src)
    n = int(hdr.split("'shape': (")[1].split(",")[0])
    px = 3 * H * W
    for i in range(n):
        a = array.array("f", ((v - 127.0) / 128.0 for v in body[i * px:(i + 1) * px]))
        with open(f"{outdir}/frame{i:03d}.npy", "wb") as o:
            o.write(npy_header("<f4", (1, 3, H, W)))
            o.write(a.tobytes())
    print(n)


def read_f32(path):
    a = array.array("f")
    a.frombytes(npy_body(path)[1])
    return a


def iou(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - iw * ih
    return iw * ih / u if u > 0 else 0.0


def detections(d, thr=0.7, nms=0.3):
    s, b = read_f32(d + "/scores.npy"), read_f32(d + "/boxes.npy")
    cand = sorted(((s[2 * i + 1], tuple(b[4 * i:4 * i + 4])) for i in range(len(s) // 2) if s[2 * i + 1] > thr),
                  reverse=True)
    keep = []
    for sc, bx in cand:
        if all(iou(bx, k[1]) <= nms for k in keep):
            keep.append((sc, bx))
    return keep


def agree(ref_dir, model_dir, n):
    nr = nm = matched = 0
    ious, dscore = [], []
    for i in range(n):
        r = detections(f"{ref_dir}/frame{i:03d}")
        m = detections(f"{model_dir}/frame{i:03d}")
        nr += len(r)
        nm += len(m)
        used = set()
        for sc, bx in r:
            best, bj = 0.5, -1
            for j, (sc2, bx2) in enumerate(m):
                v = iou(bx, bx2)
                if j not in used and v >= best:
                    best, bj = v, j
            if bj >= 0:
                used.add(bj)
                matched += 1
                ious.append(best)
                dscore.append(abs(sc - m[bj][0]))
    print(json.dumps({"frames": n, "ref_detections": nr, "model_detections": nm, "matched": matched,
                      "recall": matched / nr if nr else 1.0, "precision": matched / nm if nm else 1.0,
                      "mean_iou": sum(ious) / len(ious) if ious else None,
                      "mean_abs_score_diff": sum(dscore) / len(dscore) if dscore else None}))


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "frames":
        frames(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif cmd == "floats":
        floats(sys.argv[2], sys.argv[3])
    elif cmd == "agree":
        agree(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit(__doc__)
