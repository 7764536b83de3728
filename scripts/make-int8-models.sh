#!/usr/bin/env bash
# Writes edgeq's INT8 static QDQ versions of the benchmark models (per-channel int8 weights, int8 activations,
# `edgeq quantize --method static`) into OUT_DIR, for the latency benchmarks that compare them with FP32 and
# with ONNX Runtime running the same files (scripts/bench-onnx.sh; issue 7 item 3c). Calibration: the first
# 256 Fashion-MNIST training images for the Fashion-MNIST models, MNIST test images for mnist-8 (no MNIST
# training set in shared/), 32 random images for ultraface — ranges that are only timed here (accuracy
# of these recipes: docs/results/ptq.md). Prints one "name=path" line per file written; skips (with a message
# on stderr) what it lacks the input for. Existing files newer than their model are reused.
#
# Usage: scripts/make-int8-models.sh BUILD_DIR OUT_DIR
# Env:   EDGEQ_SHARED (default <repo>/../shared), FMNIST (default /usr/share/datasets/fashion-mnist).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:?usage: make-int8-models.sh BUILD_DIR OUT_DIR}
OUT=${2:?usage: make-int8-models.sh BUILD_DIR OUT_DIR}
SHARED=${EDGEQ_SHARED:-$ROOT/../shared}
FMNIST=${FMNIST:-/usr/share/datasets/fashion-mnist}
EDGEQ=$BUILD/edgeq
[ -x "$EDGEQ" ] || { echo "make-int8-models: $EDGEQ not built (cmake --build $BUILD --target edgeq)" >&2; exit 1; }
mkdir -p "$OUT"

quantize() {  # name model.onnx calib preprocess samples
    local out=$OUT/$1_s8.onnx
    if [ ! -f "$2" ]; then echo "make-int8-models: skipped $1: $2 missing" >&2; return 0; fi
    if [ ! -f "$3" ]; then echo "make-int8-models: skipped $1: calibration data $3 missing" >&2; return 0; fi
    if [ ! "$out" -nt "$2" ] || [ ! "$out" -nt "$EDGEQ" ]; then
        "$EDGEQ" quantize "$2" "$out" --method static --weights int8 --granularity channel --calib "$3" \
            --preprocess "$4" --calib-samples "$5" --quiet >&2
    fi
    echo "$1=$out"
}

random_npy() {  # file n c h w: uint8 random images as .npy
    [ -f "$1" ] && return 0
    python3 - "$@" <<'PY'
import os, struct, sys
f, n, c, h, w = sys.argv[1], *map(int, sys.argv[2:])
hdr = "{'descr': '|u1', 'fortran_order': False, 'shape': (%d, %d, %d, %d), }" % (n, c, h, w)
hdr += " " * (63 - (10 + len(hdr)) % 64) + "\n"
with open(f, "wb") as o:
    o.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode())
    o.write(os.urandom(n * c * h * w))
PY
}

FM=$SHARED/assets/fashion-mnist-models
FPRE=scale=0.00392156862745098,mean=0.2860,std=0.3530
for m in lenet5 mlp3 vgg_bn lstm; do
    quantize "$m" "$FM/$m.onnx" "$FMNIST/train-images-idx3-ubyte.gz" "$FPRE" 256
done
quantize mnist-8 "$SHARED/assets/onnx_models/mnist-8/model.onnx" "$SHARED/assets/datasets/mnist/t10k-images-idx3-ubyte.gz" \
    scale=1,mean=0,std=1 64
# ultraface normalises (x - 127) / 128
random_npy "$OUT/ultraface_calib.npy" 32 3 240 320
quantize ultraface-RFB-320 "$SHARED/assets/onnx_models/ultraface-RFB-320/version-RFB-320.onnx" \
    "$OUT/ultraface_calib.npy" scale=0.0078125,mean=1,std=1 32
