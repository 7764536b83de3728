#!/usr/bin/env bash
# INT8 static (QDQ) vs FP32 latency of edgeq itself (issue 4 item 2; docs/bench.md "INT8 vs FP32"): quantizes
# the Fashion-MNIST models and ultraface-RFB-320 with `edgeq quantize --method static --weights int8
# --granularity channel` (Fashion-MNIST: 256 training images; ultraface: 32 random u8 images, enough for
# ranges that are only timed here), then runs `onnx_bench --int8` (batch 1 and 64, 1 and 2 threads):
# FP32 ms, INT8 ms and the speedup per row. No assertions: timings are reported, never checked.
#
# Usage: bench/onnx_bench_int8.sh [BUILD_DIR] [onnx_bench args...]   e.g. bench/onnx_bench_int8.sh build --rounds 3
# Env:   EDGEQ_SHARED (default <repo>/../shared), BENCH_OUT (default BUILD_DIR/bench/int8: models, JSON),
#        FMNIST_TRAIN (default /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
shift || true
SHARED=${EDGEQ_SHARED:-$ROOT/../shared}
OUT=${BENCH_OUT:-$BUILD/bench/int8}
TRAIN=${FMNIST_TRAIN:-/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz}
EDGEQ=$BUILD/edgeq
BENCH=$BUILD/bench/onnx_bench
for b in "$EDGEQ" "$BENCH"; do
    [ -x "$b" ] || { echo "onnx_bench_int8: $b not built (cmake --build $BUILD --target edgeq onnx_bench)" >&2; exit 1; }
done
F=$SHARED/assets/fashion-mnist-models
UF=$SHARED/assets/onnx_models/ultraface-RFB-320/version-RFB-320.onnx
[ -f "$F/vgg_bn.onnx" ] || { echo "onnx_bench_int8: skipped: $F missing (set EDGEQ_SHARED)"; exit 0; }
mkdir -p "$OUT"

SPECS=()
if [ -f "$TRAIN" ]; then
    for m in lenet5 mlp3 vgg_bn lstm; do
        "$EDGEQ" quantize "$F/$m.onnx" "$OUT/${m}_s8.onnx" --method static --weights int8 --granularity channel \
            --calib "$TRAIN" --preprocess scale=0.00392156862745098,mean=0.2860,std=0.3530 --calib-samples 256 >&2
        SPECS+=("$m=$F/$m.onnx,$OUT/${m}_s8.onnx=1x28x28")
    done
else
    echo "onnx_bench_int8: $TRAIN missing: Fashion-MNIST models skipped" >&2
fi
if [ -f "$UF" ]; then
    # 32 random RGB images, uint8 [32,3,240,320], as .npy (ultraface normalises (x − 127) / 128)
    python3 - "$OUT/ultraface_calib.npy" <<'PY'
import os, struct, sys
hdr = "{'descr': '|u1', 'fortran_order': False, 'shape': (32, 3, 240, 320), }"
hdr += " " * (63 - (10 + len(hdr)) % 64) + "\n"
with open(sys.argv[1], "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode())
    f.write(os.urandom(32 * 3 * 240 * 320))
PY
    "$EDGEQ" quantize "$UF" "$OUT/ultraface_s8.onnx" --method static --weights int8 --granularity channel \
        --calib "$OUT/ultraface_calib.npy" --preprocess scale=0.0078125,mean=1,std=1 --calib-samples 32 >&2
    SPECS+=("ultraface-RFB-320=$UF,$OUT/ultraface_s8.onnx=3x240x320")
fi
echo "onnx_bench_int8: machine load before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs)"
exec "$BENCH" --int8 --json "$OUT/int8_speed.json" "$@" "${SPECS[@]}"
