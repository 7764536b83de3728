#!/usr/bin/env bash
# Interop: a classifier trained by `edgeq train` runs in the real ONNX Runtime with the accuracy edgeq reports.
#
# 1. edgeq trains a CNN on Fashion-MNIST (1 epoch on the first TRAIN_ORT_LIMIT training images, default 6000,
#    2 threads) and reports the written file's test top-1 (`edgeq eval`'s count);
# 2. edgeq runs the file (`edgeq run`) on the 10,000 test images (.npy chunks prepared by ort_qdq.js) and
#    onnxruntime-node@1.30.0 runs it too (tests/interop/ort_qdq.js compare: 1 thread, batch 500);
# 3. pass when ORT's top-1 equals the trainer's reported accuracy to within TRAIN_ORT_TOL (default 0.0005, i.e.
#    5 of 10,000 near-tied images) and the argmax agrees on >= 99.9 % of the images. A file ORT refuses fails.
#
# Usage: tests/interop/train_ort_interop.sh BUILD_DIR      (CTest: interop_train_ort, label interop)
# Env:   PEERS_DIR (default <repo>/.peers), TRAIN_ORT_WORK (default BUILD_DIR/interop/train_ort), TRAIN_ORT_ARCH.
# Exit:  0 pass; 1 a check failed; 77 skipped (node missing, npm unreachable, or the dataset missing).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:?usage: train_ort_interop.sh BUILD_DIR}" && pwd)
PEERS_DIR=${PEERS_DIR:-$ROOT/.peers}
ORT_VERSION=1.30.0
EDGEQ=$BUILD/edgeq
WORK=${TRAIN_ORT_WORK:-$BUILD/interop/train_ort}
JS=$ROOT/tests/interop/ort_qdq.js
DATA=/usr/share/datasets/fashion-mnist
PRE_JS=0.00392156862745098,0.2860,0.3530  # Normalize in src/train/data.h
ARCH=${TRAIN_ORT_ARCH:-cnn}
LIMIT=${TRAIN_ORT_LIMIT:-6000}
TOL=${TRAIN_ORT_TOL:-0.0005}

say() { echo "interop-train-ort: $*"; }
skip() { say "skipped: $*"; exit 77; }

[ -x "$EDGEQ" ] || { say "$EDGEQ not built (cmake --build $BUILD --target edgeq)"; exit 1; }
command -v node >/dev/null 2>&1 || skip "node not found (Node.js >= 20 runs the ONNX Runtime peer)"
for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
    [ -f "$DATA/$f" ] || skip "$DATA/$f missing (Debian package dataset-fashion-mnist)"
done

# -- peer (same install as ort_qdq_interop.sh) ----------------------------------------------------------------
pj=$PEERS_DIR/node_modules/onnxruntime-node/package.json
if ! { [ -f "$pj" ] && grep -q "\"version\": \"$ORT_VERSION\"" "$pj"; }; then
    command -v npm >/dev/null 2>&1 || skip "npm not found, onnxruntime-node@$ORT_VERSION not installed"
    timeout 60 npm view "onnxruntime-node@$ORT_VERSION" version >/dev/null 2>&1 ||
        skip "npm unreachable (cannot fetch onnxruntime-node@$ORT_VERSION)"
    mkdir -p "$PEERS_DIR"
    [ -f "$PEERS_DIR/package.json" ] || echo '{ "name": "edgeq-peers", "private": true }' >"$PEERS_DIR/package.json"
    say "installing onnxruntime-node@$ORT_VERSION into $PEERS_DIR"
    if ! timeout 600 npm i --prefix "$PEERS_DIR" --ignore-scripts --no-audit --no-fund --loglevel=error \
            "onnxruntime-node@$ORT_VERSION" >"$PEERS_DIR/npm-install-ort.log" 2>&1; then
        grep -qiE 'ENOTFOUND|ETIMEDOUT|ECONNRESET|ECONNREFUSED|EAI_AGAIN|network' "$PEERS_DIR/npm-install-ort.log" &&
            skip "npm unreachable during install (see $PEERS_DIR/npm-install-ort.log)"
        say "npm install failed (see $PEERS_DIR/npm-install-ort.log)"
        exit 1
    fi
fi
export NODE_PATH=$PEERS_DIR/node_modules

rm -rf "$WORK"
mkdir -p "$WORK"
model=$WORK/$ARCH.onnx
if ! "$EDGEQ" train --arch "$ARCH" --data "$DATA" --epochs 1 --limit "$LIMIT" --threads 2 --seed 1 -o "$model" \
        --json --quiet >"$WORK/train.json" 2>"$WORK/train.log"; then
    say "FAIL: edgeq train failed: $(tail -3 "$WORK/train.log")"
    exit 1
fi
edgeq_acc=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).test_accuracy)' "$WORK/train.json")

node "$JS" prep "$DATA/t10k-images-idx3-ubyte.gz" "$WORK/x" --preprocess "$PRE_JS" --chunk 1000 >/dev/null ||
    { say "FAIL: ort_qdq.js prep failed"; exit 1; }
for x in "$WORK"/x/x_*.npy; do
    c=$(basename "$x" .npy)
    "$EDGEQ" run "$model" --input "input=$x" --output-dir "$WORK/edgeq/out_${c#x_}" >"$WORK/run.log" 2>&1 ||
        { say "FAIL: edgeq run failed on $c: $(tail -3 "$WORK/run.log")"; exit 1; }
done
res=$(node "$JS" compare "$model" "$DATA/t10k-images-idx3-ubyte.gz" "$DATA/t10k-labels-idx1-ubyte.gz" "$WORK/edgeq" \
    --preprocess "$PRE_JS" 2>"$WORK/ort.log")
rc=$?
if [ $rc = 2 ]; then
    say "FAIL: ONNX Runtime $ORT_VERSION rejects $model:"
    sed 's/^/interop-train-ort:     /' "$WORK/ort.log"
    exit 1
elif [ $rc != 0 ]; then
    say "FAIL: ort_qdq.js compare failed (rc $rc): $(tail -3 "$WORK/ort.log")"
    exit 1
fi
echo "$res" >"$WORK/compare.json"
say "edgeq train reported top1 $edgeq_acc; ORT/edgeq run: $res"
node -e 'const r = JSON.parse(process.argv[1]); const acc = Number(process.argv[2]), tol = Number(process.argv[3]);
  const ok = Math.abs(r.ort_top1 - acc) <= tol && r.agreement >= 0.999;
  if (!ok) console.log(`interop-train-ort: FAIL: ORT top1 ${r.ort_top1} vs trainer ${acc} (tol ${tol}), agreement ${r.agreement}`);
  process.exit(ok ? 0 : 1);' "$res" "$edgeq_acc" "$TOL" || exit 1
say "pass: the trained $ARCH runs in ONNX Runtime $ORT_VERSION with the accuracy edgeq train reported"
