#!/usr/bin/env bash
# Demo: quantize Karpathy's stories260K (a llama2.c checkpoint) to a GGUF, then to Q8_0 and Q4_0,
# and show each file's tensor table.
set -euo pipefail
BUILD=${1:-build}
SHARED=${EDGEQ_SHARED:-$(cd "$(dirname "$0")/.." && pwd)/../shared}
M=$SHARED/assets/llm/stories260K
[ -f "$M/stories260K.bin" ] || { echo "demo: $M/stories260K.bin not found (set EDGEQ_SHARED)" >&2; exit 1; }
OUT=${DEMO_OUT:-$BUILD/demo}
mkdir -p "$OUT"
E=$BUILD/edgeq
set -x
"$E" quantize "$M/stories260K.bin" "$OUT/stories260K-F32.gguf" F32 --from-llama2c "$M/tok512.bin"
"$E" quantize "$OUT/stories260K-F32.gguf" "$OUT/stories260K-Q8_0.gguf" Q8_0
"$E" quantize "$OUT/stories260K-F32.gguf" "$OUT/stories260K-Q4_0.gguf" Q4_0
"$E" inspect "$OUT/stories260K-Q8_0.gguf"
"$E" inspect "$OUT/stories260K-Q4_0.gguf"
