#!/usr/bin/env bash
# Model latency, edgeq fast path vs ONNX Runtime 1.30 measured in the same run (docs/bench.md,
# docs/results/perf.md): mnist-8, ultraface-RFB-320 and the four Fashion-MNIST models, batch 1 and 64 (64 only
# where the model's input allows it), 1 and 2 threads; FP32 and, unless BENCH_INT8=0, edgeq's INT8 static QDQ
# export of each (scripts/make-int8-models.sh) run by both sides. Installs onnxruntime-node@1.30.0 into .peers/ with the ordinary npm
# client (lifecycle scripts off); without npm access it says so and exits 0 (nothing to compare against).
#
# Usage: scripts/bench-onnx.sh [BUILD_DIR] [onnx_bench args...]   e.g. scripts/bench-onnx.sh build-fast --rounds 3
# Env:   EDGEQ_SHARED (default <repo>/../shared), PEERS_DIR (default <repo>/.peers), BENCH_OUT (JSON folder),
#        BENCH_PASSES (alternating ORT/edgeq passes, default 2; each side keeps its best p50 per cell),
#        BENCH_INT8 (default 1: also the INT8 models, named <model>-int8).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
shift || true
SHARED=${EDGEQ_SHARED:-$ROOT/../shared}
PEERS_DIR=${PEERS_DIR:-$ROOT/.peers}
OUT=${BENCH_OUT:-$BUILD/bench}
ORT_VERSION=1.30.0

BENCH=$BUILD/bench/onnx_bench
[ -x "$BENCH" ] || { echo "bench-onnx: $BENCH not built (cmake --build $BUILD --target onnx_bench)" >&2; exit 1; }
command -v node >/dev/null 2>&1 || { echo "bench-onnx: skipped: node not found (Node.js >= 20 runs the ORT peer)"; exit 0; }

pj=$PEERS_DIR/node_modules/onnxruntime-node/package.json
if ! { [ -f "$pj" ] && grep -q "\"version\": \"$ORT_VERSION\"" "$pj"; }; then
    command -v npm >/dev/null 2>&1 || { echo "bench-onnx: skipped: npm not found"; exit 0; }
    if ! timeout 60 npm view "onnxruntime-node@$ORT_VERSION" version >/dev/null 2>&1; then
        echo "bench-onnx: skipped: npm unreachable (cannot fetch onnxruntime-node@$ORT_VERSION)"
        exit 0
    fi
    mkdir -p "$PEERS_DIR"
    [ -f "$PEERS_DIR/package.json" ] || echo '{ "name": "edgeq-peers", "private": true }' >"$PEERS_DIR/package.json"
    echo "bench-onnx: installing onnxruntime-node@$ORT_VERSION into $PEERS_DIR" >&2
    if ! timeout 600 npm i --prefix "$PEERS_DIR" --ignore-scripts --no-audit --no-fund --loglevel=error \
            "onnxruntime-node@$ORT_VERSION" >"$PEERS_DIR/npm-install-ort.log" 2>&1; then
        if grep -qiE 'ENOTFOUND|ETIMEDOUT|ECONNRESET|ECONNREFUSED|EAI_AGAIN|network' "$PEERS_DIR/npm-install-ort.log"; then
            echo "bench-onnx: skipped: npm unreachable during install (see $PEERS_DIR/npm-install-ort.log)"
            exit 0
        fi
        echo "bench-onnx: npm install failed (see $PEERS_DIR/npm-install-ort.log)" >&2
        exit 1
    fi
fi

F=$SHARED/assets/fashion-mnist-models
M=$SHARED/assets/onnx_models
MODELS=(
    "mnist-8=$M/mnist-8/model.onnx=1x28x28"
    "ultraface-RFB-320=$M/ultraface-RFB-320/version-RFB-320.onnx=3x240x320"
    "lenet5=$F/lenet5.onnx=1x28x28"
    "mlp3=$F/mlp3.onnx=1x28x28"
    "vgg_bn=$F/vgg_bn.onnx=1x28x28"
    "lstm=$F/lstm.onnx=1x28x28"
)
for m in "${MODELS[@]}"; do
    f=${m#*=}; f=${f%=*}
    [ -f "$f" ] || { echo "bench-onnx: skipped: $f missing (set EDGEQ_SHARED to the shared/ folder)"; exit 0; }
done
mkdir -p "$OUT"
if [ "${BENCH_INT8:-1}" = 1 ]; then
    int8=$(bash "$ROOT/scripts/make-int8-models.sh" "$BUILD" "$OUT/int8") || { echo "bench-onnx: make-int8-models.sh failed" >&2; exit 1; }
    for m in "${MODELS[@]}"; do
        name=${m%%=*}; shape=${m##*=}
        f=$(printf '%s\n' "$int8" | sed -n "s|^$name=||p")
        [ -n "$f" ] && MODELS+=("$name-int8=$f=$shape")
    done
fi
echo "bench-onnx: machine load before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs)"
# Alternating passes (ORT, edgeq, ORT, edgeq, ...): each side keeps its best per-pass p50 per cell
# (bench/peers/combine_passes.js), so one load spike on a shared machine does not decide a ratio.
PASSES=${BENCH_PASSES:-2}
pass_files=()
for ((p = 1; p <= PASSES; p++)); do
    NODE_PATH=$PEERS_DIR/node_modules node "$ROOT/bench/peers/ort_bench.js" "$OUT/ort_speed.$p.json" "${MODELS[@]}" || {
        echo "bench-onnx: ort_bench.js failed" >&2
        exit 1
    }
    echo "bench-onnx: pass $p of $PASSES"
    "$BENCH" --ort "$OUT/ort_speed.$p.json" --json "$OUT/onnx_speed.$p.json" "$@" "${MODELS[@]}" || exit 1
    pass_files+=("$OUT/onnx_speed.$p.json")
done
exec node "$ROOT/bench/peers/combine_passes.js" "$OUT/onnx_speed.json" "${pass_files[@]}"
