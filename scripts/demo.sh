#!/usr/bin/env bash
# `make demo`: the end-to-end demo (`edgeq demo`, issue 6): trains (or reuses a cached) FP32 Fashion-MNIST CNN,
# quantizes it by every method (dynamic / static / QAT at INT8 / INT4 / INT2), evaluates and benchmarks each,
# prints the method x precision table and writes demo-report/ (report.html, results.json, models/*.json).
# The cache is ~/.cache/edgeq/demo (DEMO_CACHE overrides), the report folder demo-report (DEMO_OUT overrides);
# further arguments go to `edgeq demo` (e.g. --threads 4).
#
#   scripts/demo.sh [BUILD_DIR] [edgeq demo options...]
#   scripts/demo.sh [BUILD_DIR] --llm     the earlier GGUF demo: stories260K (llama2.c) -> GGUF F32 -> Q8_0 / Q4_0
set -euo pipefail
BUILD=${1:-build}
shift || true
E=$BUILD/edgeq
[ -x "$E" ] || { echo "demo: $E not built (make build)" >&2; exit 1; }
if [ "${1:-}" = --llm ]; then
    SHARED=${EDGEQ_SHARED:-$(cd "$(dirname "$0")/.." && pwd)/../shared}
    M=$SHARED/assets/llm/stories260K
    [ -f "$M/stories260K.bin" ] || { echo "demo: $M/stories260K.bin not found (set EDGEQ_SHARED)" >&2; exit 1; }
    OUT=${DEMO_OUT:-$BUILD/demo}
    mkdir -p "$OUT"
    set -x
    "$E" quantize "$M/stories260K.bin" "$OUT/stories260K-F32.gguf" F32 --from-llama2c "$M/tok512.bin"
    "$E" quantize "$OUT/stories260K-F32.gguf" "$OUT/stories260K-Q8_0.gguf" Q8_0
    "$E" quantize "$OUT/stories260K-F32.gguf" "$OUT/stories260K-Q4_0.gguf" Q4_0
    "$E" inspect "$OUT/stories260K-Q8_0.gguf"
    "$E" inspect "$OUT/stories260K-Q4_0.gguf"
    exit 0
fi
CACHE=()
[ -n "${DEMO_CACHE:-}" ] && CACHE=(--cache "$DEMO_CACHE")
exec "$E" demo -o "${DEMO_OUT:-demo-report}" "${CACHE[@]}" "$@"
