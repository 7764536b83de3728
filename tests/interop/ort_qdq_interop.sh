#!/usr/bin/env bash
# Interop: ONNX files written by `edgeq quantize` must run in the real ONNX Runtime and classify like edgeq.
#
# Peer: onnxruntime-node@1.30.0, installed into .peers/ with the ordinary npm client (lifecycle scripts off),
# as scripts/bench-onnx.sh does; driven by tests/interop/ort_qdq.js (1 thread, batch 500, graph optimisation all).
#
# For each Fashion-MNIST model in $EDGEQ_SHARED/assets/fashion-mnist-models (lenet5, mlp3, vgg_bn, lstm):
#   1. the freshly built edgeq quantizes it four ways:
#        static   --method static --weights int8 --granularity channel --calibrator minmax --format qdq
#                 (calibrated on the first 512 Fashion-MNIST training images)
#        native   the same as static with --format native (QLinearConv / QLinearMatMul / com.microsoft.QGemm)
#        dynamic  --method dynamic --weights int8
#        w4g32    --method weight-only --weights int4 --granularity group:32
#   2. edgeq runs each quantized file (`edgeq run`, fast path) on all 10,000 test images (preprocessed by
#      ort_qdq.js into .npy chunks of 1000), and ORT runs the same file on the same images;
#   3. pass when ORT's and edgeq's argmax agree on >= 99.5 % of the images (per model and method). Both top-1
#      accuracies are printed. A file ORT refuses is a failure, and ORT's error is printed verbatim.
#
# Usage: tests/interop/ort_qdq_interop.sh BUILD_DIR      (CTest: interop_ort_qdq, label interop)
# Env:   EDGEQ_SHARED (default <repo>/../shared), PEERS_DIR (default <repo>/.peers),
#        ORT_QDQ_MODELS (default "lenet5 mlp3 vgg_bn lstm"), ORT_QDQ_METHODS (default "static native dynamic w4g32"),
#        ORT_QDQ_WORK (work folder, default BUILD_DIR/interop/ort_qdq).
# Exit:  0 pass; 1 a check failed; 77 skipped (node missing, npm unreachable, or data/models missing).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:?usage: ort_qdq_interop.sh BUILD_DIR}" && pwd)
SHARED=${EDGEQ_SHARED:-$ROOT/../shared}
PEERS_DIR=${PEERS_DIR:-$ROOT/.peers}
ORT_VERSION=1.30.0
EDGEQ=$BUILD/edgeq
WORK=${ORT_QDQ_WORK:-$BUILD/interop/ort_qdq}
JS=$ROOT/tests/interop/ort_qdq.js
FM=$SHARED/assets/fashion-mnist-models
DATA=/usr/share/datasets/fashion-mnist
PRE_CLI=scale=0.00392156862745098,mean=0.2860,std=0.3530
PRE_JS=0.00392156862745098,0.2860,0.3530
MIN_AGREEMENT=0.995
MODELS=(${ORT_QDQ_MODELS:-lenet5 mlp3 vgg_bn lstm})
METHODS=(${ORT_QDQ_METHODS:-static native dynamic w4g32})

say() { echo "interop-ort: $*"; }
skip() { say "skipped: $*"; exit 77; }
fails=0
fail() { say "FAIL: $*"; fails=$((fails + 1)); }

[ -x "$EDGEQ" ] || { say "$EDGEQ not built (cmake --build $BUILD --target edgeq)"; exit 1; }
command -v node >/dev/null 2>&1 || skip "node not found (Node.js >= 20 runs the ONNX Runtime peer)"
for f in "$DATA/t10k-images-idx3-ubyte.gz" "$DATA/t10k-labels-idx1-ubyte.gz" "$DATA/train-images-idx3-ubyte.gz"; do
    [ -f "$f" ] || skip "$f missing (Debian package dataset-fashion-mnist)"
done
for m in "${MODELS[@]}"; do
    [ -f "$FM/$m.onnx" ] || skip "$FM/$m.onnx missing (set EDGEQ_SHARED to the shared/ folder)"
done

# -- peer ----------------------------------------------------------------------------------------------
pj=$PEERS_DIR/node_modules/onnxruntime-node/package.json
if ! { [ -f "$pj" ] && grep -q "\"version\": \"$ORT_VERSION\"" "$pj"; }; then
    command -v npm >/dev/null 2>&1 || skip "npm not found, onnxruntime-node@$ORT_VERSION not installed"
    if ! timeout 60 npm view "onnxruntime-node@$ORT_VERSION" version >/dev/null 2>&1; then
        skip "npm unreachable (cannot fetch onnxruntime-node@$ORT_VERSION)"
    fi
    mkdir -p "$PEERS_DIR"
    [ -f "$PEERS_DIR/package.json" ] || echo '{ "name": "edgeq-peers", "private": true }' >"$PEERS_DIR/package.json"
    say "installing onnxruntime-node@$ORT_VERSION into $PEERS_DIR"
    if ! timeout 600 npm i --prefix "$PEERS_DIR" --ignore-scripts --no-audit --no-fund --loglevel=error \
            "onnxruntime-node@$ORT_VERSION" >"$PEERS_DIR/npm-install-ort.log" 2>&1; then
        if grep -qiE 'ENOTFOUND|ETIMEDOUT|ECONNRESET|ECONNREFUSED|EAI_AGAIN|network' "$PEERS_DIR/npm-install-ort.log"; then
            skip "npm unreachable during install (see $PEERS_DIR/npm-install-ort.log)"
        fi
        say "npm install failed (see $PEERS_DIR/npm-install-ort.log)"
        exit 1
    fi
fi
export NODE_PATH=$PEERS_DIR/node_modules

# -- test images as .npy chunks (edgeq run's input) ---------------------------------------------------------
rm -rf "$WORK"
mkdir -p "$WORK"
node "$JS" prep "$DATA/t10k-images-idx3-ubyte.gz" "$WORK/x" --preprocess "$PRE_JS" --chunk 1000 >/dev/null ||
    { say "ort_qdq.js prep failed"; exit 1; }

quant_args() {
    case $1 in
    static) echo "--method static --weights int8 --granularity channel --calibrator minmax --format qdq \
--calib $DATA/train-images-idx3-ubyte.gz --preprocess $PRE_CLI --calib-samples 512" ;;
    native) echo "--method static --weights int8 --granularity channel --calibrator minmax --format native \
--calib $DATA/train-images-idx3-ubyte.gz --preprocess $PRE_CLI --calib-samples 512" ;;
    dynamic) echo "--method dynamic --weights int8" ;;
    w4g32) echo "--method weight-only --weights int4 --granularity group:32" ;;
    *) return 1 ;;
    esac
}

printf 'interop-ort: %-8s %-8s %9s %11s %10s %7s\n' model method agreement "edgeq top1" "ORT top1" seconds
for m in "${MODELS[@]}"; do
    for q in "${METHODS[@]}"; do
        args=$(quant_args "$q") || { fail "unknown method '$q'"; continue; }
        t0=$(date +%s)
        qf=$WORK/$m-$q.onnx
        # shellcheck disable=SC2086
        if ! "$EDGEQ" quantize "$FM/$m.onnx" "$qf" $args -q >"$WORK/$m-$q.quantize.log" 2>&1; then
            fail "$m $q: edgeq quantize failed: $(tail -3 "$WORK/$m-$q.quantize.log")"
            continue
        fi
        ed=$WORK/$m-$q.edgeq
        ok=1
        for x in "$WORK"/x/x_*.npy; do
            c=$(basename "$x" .npy)
            if ! "$EDGEQ" run "$qf" --input "input=$x" --output-dir "$ed/out_${c#x_}" >"$WORK/$m-$q.run.log" 2>&1; then
                fail "$m $q: edgeq run failed on $c: $(tail -3 "$WORK/$m-$q.run.log")"
                ok=0
                break
            fi
        done
        [ $ok = 1 ] || continue
        res=$(node "$JS" compare "$qf" "$DATA/t10k-images-idx3-ubyte.gz" "$DATA/t10k-labels-idx1-ubyte.gz" "$ed" \
            --preprocess "$PRE_JS" 2>"$WORK/$m-$q.ort.log")
        rc=$?
        if [ $rc = 2 ]; then
            fail "$m $q: ONNX Runtime $ORT_VERSION rejects $qf:"
            sed 's/^/interop-ort:     /' "$WORK/$m-$q.ort.log"
            continue
        elif [ $rc != 0 ]; then
            fail "$m $q: ort_qdq.js compare failed (rc $rc): $(tail -3 "$WORK/$m-$q.ort.log")"
            continue
        fi
        read -r agr eacc oacc < <(node -e 'const r = JSON.parse(process.argv[1]);
            console.log((100 * r.agreement).toFixed(2), (100 * r.edgeq_top1).toFixed(2), (100 * r.ort_top1).toFixed(2));' "$res")
        printf 'interop-ort: %-8s %-8s %8s%% %10s%% %9s%% %7s\n' "$m" "$q" "$agr" "$eacc" "$oacc" $(($(date +%s) - t0))
        echo "$res" >"$WORK/$m-$q.json"
        if ! node -e 'process.exit(JSON.parse(process.argv[1]).agreement >= Number(process.argv[2]) ? 0 : 1)' \
                "$res" "$MIN_AGREEMENT"; then
            fail "$m $q: top-1 agreement $agr % < $(node -e "console.log(100 * $MIN_AGREEMENT)") % ($res)"
        fi
    done
done

if [ $fails -gt 0 ]; then
    say "$fails check(s) failed"
    exit 1
fi
say "pass: every quantized file runs in ONNX Runtime $ORT_VERSION with >= $(node -e "console.log(100 * $MIN_AGREEMENT)") % top-1 agreement"
