#!/usr/bin/env bash
# make bench: first the machine's peaks (bench/peak_bench: FP32 FMA, INT8 VNNI, BF16, read bandwidth) and GEMM
# throughput as % of those peaks (gemm_bench, qgemm_bench), then quantization speed of edgeq vs ggml
# (bench/quantize_bench.cpp) on the same real tensors, then FP32 model latency of edgeq's fast path vs ONNX
# Runtime (scripts/bench-onnx.sh).
# Installs the ggml peer first (scripts/peers-setup.sh -> .peers/); without npm access it says so and
# exits 0, since there is nothing to compare against.
#
# Usage: scripts/bench.sh [BUILD_DIR] [quantize_bench args...]   e.g. scripts/bench.sh build --reps 15
# Env:   EDGEQ_SHARED (default <repo>/../shared), PEERS_DIR; BENCH_LLM=1 adds bench/llm_speed.sh (LLM vs llama.cpp).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
shift || true
export EDGEQ_SHARED=${EDGEQ_SHARED:-$ROOT/../shared}

BENCH=$BUILD/bench/quantize_bench
[ -x "$BENCH" ] || { echo "bench: $BENCH not built (cmake --build $BUILD --target quantize_bench)" >&2; exit 1; }

for b in peak_bench gemm_bench qgemm_bench; do
    if [ -x "$BUILD/bench/$b" ]; then echo "== $b"; "$BUILD/bench/$b"; echo; else echo "bench: $BUILD/bench/$b not built"; fi
done

setup_out=$(bash "$ROOT/scripts/peers-setup.sh")
rc=$?
LIBDIR=$(printf '%s\n' "$setup_out" | tail -1)
if [ "$rc" = 77 ]; then echo "bench: skipped: npm unreachable, no ggml peer to compare with"; exit 0; fi
[ "$rc" = 0 ] || { echo "bench: peers-setup.sh failed (rc $rc)" >&2; exit 1; }

"$BENCH" --peers "$LIBDIR" "$@"
rc=$?

# Then FP32 model latency, edgeq fast path vs ONNX Runtime (scripts/bench-onnx.sh, docs/bench.md).
if [ -x "$BUILD/bench/onnx_bench" ]; then
    bash "$ROOT/scripts/bench-onnx.sh" "$BUILD" || { [ "$rc" != 0 ] || rc=1; }
else
    echo "bench: $BUILD/bench/onnx_bench not built; skipping the ONNX Runtime comparison"
fi
# LLM prefill/decode vs llama.cpp on random-weight GGUFs (bench/llm_speed.sh, docs/llm/speed.md): GBs of models
# and ~15 minutes, so only with BENCH_LLM=1.
if [ "${BENCH_LLM:-0}" = 1 ]; then
    bash "$ROOT/bench/llm_speed.sh" "$BUILD" || { [ "$rc" != 0 ] || rc=1; }
fi
exit "$rc"
