#!/usr/bin/env bash
# LLM speed benchmark, edgeq vs llama.cpp on the same GGUF files, measured in the same run (issue 5 item 6,
# issue 7 item 3d; docs/llm/speed.md).
#
#   1. Models: random-weight llama GGUFs with the tensor shapes of a ~100M model (n_embd 768, 12 layers, 12 heads,
#      ffn 2048, vocab 32000) and of TinyLlama 1.1B (2048, 22 layers, 32 heads / 4 KV heads, ffn 5632, vocab
#      32000), written in F32 by `llm_bench gen` (deterministic, seeded; synthetic SentencePiece vocab), then
#      `edgeq quantize F32.gguf T.gguf T` for each other type. Cached in $LLM_BENCH_DIR: reused when present.
#   2. Read bandwidth for each thread count (llm_bench bandwidth, bench/peak.h), in this run.
#   3. Per model size x type: `llm_bench run` (edgeq, in-process) and bench/peers/llama_bench.cpp (llama.cpp
#      0ad4a86 from npm @node-llama-cpp/linux-x64@3.22.1, dlopen) with the same protocol: prompt of 64 fixed
#      token ids as one batch, then $LLM_DECODE tokens one at a time; F32 K/V cache of 512 positions, no flash
#      attention; one warm-up pass, best of $LLM_REPS repetitions; 1 and 2 threads.
#   4. Table: prefill tok/s edgeq, llama.cpp, ratio; decode the same; decode as % of the roofline
#      (read bandwidth / bytes one decode step reads: all tensors but token_embd, one embedding row, K/V rows);
#      edgeq's peak RSS vs file size + K/V cache + 50 MB (issue 5's budget).
#
# Usage: bench/llm_speed.sh [BUILD_DIR]      (default build; needs the edgeq and llm_bench targets, Release)
#        also run by scripts/bench.sh when BENCH_LLM=1.
# Env:   LLM_BENCH_DIR  model cache and results (default BUILD_DIR/bench/llm; GBs: never commit it)
#        LLM_SIZES      "100m 1b"                 which shapes
#        LLM_TYPES_100M "F32 F16 Q8_0 Q4_0 Q4_K_M" types for 100m
#        LLM_TYPES_1B   "Q8_0 Q4_0 Q4_K_M"          types for 1b (F32 1B is 4.4 GB and ~0.5 s a token here)
#        LLM_THREADS    "1,2"   LLM_DECODE 16   LLM_REPS 3   PEERS_DIR (scripts/peers-setup.sh)
# Exit:  0 measured (or skipped: no npm, so no peer); 1 a step failed.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-build}" && pwd) || exit 1
DIR=${LLM_BENCH_DIR:-$BUILD/bench/llm}
SIZES=${LLM_SIZES:-100m 1b}
TYPES_100M=${LLM_TYPES_100M:-F32 F16 Q8_0 Q4_0 Q4_K_M}
TYPES_1B=${LLM_TYPES_1B:-Q8_0 Q4_0 Q4_K_M}
THREADS=${LLM_THREADS:-1,2}
DECODE=${LLM_DECODE:-16}
REPS=${LLM_REPS:-3}
PROMPT=64
CTX=512
EDGEQ=$BUILD/edgeq
LLM_BENCH=$BUILD/bench/llm_bench
say() { echo "llm_speed: $*"; }

for b in "$EDGEQ" "$LLM_BENCH"; do
    [ -x "$b" ] || { say "$b not built (cmake --build $BUILD --target edgeq llm_bench)"; exit 1; }
done
setup_out=$(bash "$ROOT/scripts/peers-setup.sh")
rc=$?
LIBDIR=$(printf '%s\n' "$setup_out" | tail -1)
if [ "$rc" = 77 ]; then say "skipped: npm unreachable, no llama.cpp peer to compare with"; exit 0; fi
[ "$rc" = 0 ] && [ -f "$LIBDIR/libllama.v0.5.0.so" ] || { say "peers-setup.sh failed (rc $rc)"; exit 1; }

mkdir -p "$DIR"
DRIVER=$BUILD/bench/llama_bench
SRC=$ROOT/bench/peers/llama_bench.cpp
if [ ! -x "$DRIVER" ] || [ "$SRC" -nt "$DRIVER" ] || [ "$ROOT/tests/interop/llama_api.h" -nt "$DRIVER" ] ||
    [ "$ROOT/tests/interop/llama_dl.h" -nt "$DRIVER" ]; then
    say "building $DRIVER"
    "${CXX:-c++}" -std=c++20 -O2 -Wall -Wextra -Wshadow -I "$ROOT/tests/interop" "$SRC" -o "$DRIVER.tmp" -ldl &&
        mv "$DRIVER.tmp" "$DRIVER" || { say "cannot build the driver"; exit 1; }
fi

# -- 1. models (cached) ----------------------------------------------------------------------------------------
for size in $SIZES; do
    case $size in 100m) types=$TYPES_100M ;; 1b) types=$TYPES_1B ;; *) say "unknown size $size"; exit 1 ;; esac
    f32=$DIR/llama-$size-F32.gguf
    if [ ! -f "$f32" ]; then
        say "generating $f32"
        "$LLM_BENCH" gen --shape "$size" --out "$f32" || exit 1
    fi
    for T in $types; do
        [ "$T" = F32 ] || [ -f "$DIR/llama-$size-$T.gguf" ] || {
            say "quantizing $size to $T"
            "$EDGEQ" quantize "$f32" "$DIR/llama-$size-$T.gguf" "$T" >"$DIR/quantize-$size-$T.log" 2>&1 ||
                { say "edgeq quantize $T failed (see $DIR/quantize-$size-$T.log)"; exit 1; }
        }
    done
done

# -- 2-3. measurements -------------------------------------------------------------------------------------------
RES=$DIR/results-$(date -u +%Y%m%dT%H%M%SZ).jsonl
say "results -> $RES"
tag() { sed "s/^{/{\"size\":\"$1\",\"type\":\"$2\",/"; }
echo "{\"kind\":\"machine\",\"cpu\":\"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')\",\"nproc\":$(nproc),\"load_before\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}" >>"$RES"
"$LLM_BENCH" bandwidth --threads "$THREADS" | sed 's/^{/{"kind":"bandwidth",/' >>"$RES" || exit 1
args=(--threads "$THREADS" --prompt "$PROMPT" --decode "$DECODE" --reps "$REPS" --ctx "$CTX")
fails=0
for size in $SIZES; do
    case $size in 100m) types=$TYPES_100M ;; 1b) types=$TYPES_1B ;; esac
    for T in $types; do
        m=$DIR/llama-$size-$T.gguf
        say "$size $T: edgeq"
        "$LLM_BENCH" run "$m" "${args[@]}" | tag "$size" "$T" >>"$RES" || { say "FAIL edgeq $size $T"; fails=$((fails + 1)); }
        say "$size $T: llama.cpp"
        "$DRIVER" --lib "$LIBDIR" "${args[@]}" "$m" 2>"$DIR/llama_bench.err" | tag "$size" "$T" >>"$RES" ||
            { say "FAIL llama.cpp $size $T (see $DIR/llama_bench.err)"; fails=$((fails + 1)); }
    done
done
echo "{\"kind\":\"machine\",\"load_after\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}" >>"$RES"

# -- 4. table ------------------------------------------------------------------------------------------------------
python3 "$ROOT/bench/llm_table.py" "$RES" || fails=$((fails + 1))
[ "$fails" = 0 ]
