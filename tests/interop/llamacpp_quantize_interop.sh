#!/usr/bin/env bash
# Interop: `edgeq quantize` against the real llama.cpp quantizer, file type by file type and option by option.
#
# Peer: prebuilt llama.cpp 0ad4a86 (npm @node-llama-cpp/linux-x64@3.22.1), installed into .peers/ by
# scripts/peers-setup.sh and driven by tests/interop/llama_quantize.cpp (dlopen; llama_model_quantize with
# llama_model_quantize_default_params() + ftype, nthread and the options; ABI checked at every run). The same
# driver compares two GGUFs with its own reader (--compare): tensor names/shapes/types, tensor bytes,
# metadata, the whole file.
#
# Steps (IN = fixtures/llm/models/stories260K-F32.gguf and assets/llm/shakespeare-wiki-4M/...-F32.gguf):
#   1. for each IN and each file type T in F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K_S Q3_K_M Q3_K_L Q4_K_S
#      Q4_K_M Q5_K_S Q5_K_M Q6_K IQ4_NL TQ1_0 TQ2_0:
#        llama.cpp: llama_quantize IN <m>-<T>.llama.gguf T     (refused by llama.cpp -> reported, case skipped)
#        edgeq:     edgeq quantize -q IN <m>-<T>.edgeq.gguf T
#        per-tensor types must be equal (FAIL otherwise, with tensor / edgeq type / llama.cpp type);
#        byte identity is reported (and which tensors or metadata differ), not required.
#      Driver check: where fixtures/llm/models/stories260K-<T>.gguf exists (made by llama-quantize: Q8_0 Q4_0
#      Q4_K_M Q5_K_S Q6_K Q2_K), llama.cpp's live output must equal it byte for byte (F16 is excluded: that
#      fixture comes from the converter, with another key and tensor order).
#   2. options, the same comparison: on shakespeare-wiki-4M --pure Q4_0, --pure Q4_K_M, Q4_K_M with
#      --output-tensor-type Q8_0, --token-embedding-type Q6_K, two --tensor-type rules; on stories260K (rows of
#      64 and 172) two forced types the rows cannot hold, where edgeq is stricter by design
#      (docs/quant/llama-mix.md): edgeq must refuse naming the tensor; what llama.cpp does is reported.
#   3. --imatrix: the driver writes a synthetic imatrix GGUF per model (llama-imatrix's layout; one matrix with
#      count 0); every file type of step 1 again with it, same comparison. llama.cpp gets what llama-quantize
#      --imatrix passes (in_sum2/count per matrix, the quantize.imatrix.* kv overrides).
#
# Usage: tests/interop/llamacpp_quantize_interop.sh BUILD_DIR   (CTest: interop_llamacpp_quantize, label interop)
# Env:   EDGEQ_SHARED (default <repo>/../shared), CXX (driver compiler), PEERS_DIR, EDGEQ_INTEROP_THREADS (2).
# Exit:  0 pass; 1 a check failed; 77 skipped (npm unreachable, so no peer).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:?usage: llamacpp_quantize_interop.sh BUILD_DIR}" && pwd)
SHARED=${EDGEQ_SHARED:-$ROOT/../shared}
MODELS=$SHARED/fixtures/llm/models
EDGEQ=$BUILD/edgeq
WORK=$BUILD/interop
OUT=$WORK/quantize-out
THREADS=${EDGEQ_INTEROP_THREADS:-2}
TYPES=(F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K_S Q3_K_M Q3_K_L Q4_K_S Q4_K_M Q5_K_S Q5_K_M Q6_K IQ4_NL TQ1_0
    TQ2_0)
declare -A IN=(
    [stories260K]=$MODELS/stories260K-F32.gguf
    [shakespeare-wiki-4M]=$SHARED/assets/llm/shakespeare-wiki-4M/shakespeare-wiki-4M-F32.gguf
)
MODEL_ORDER=(stories260K shakespeare-wiki-4M)

say() { echo "interop-quantize: $*"; }
fails=0
fail() { echo "interop-quantize: FAIL: $*"; fails=$((fails + 1)); }

# -- peer ----------------------------------------------------------------------------------------------
setup_out=$(bash "$ROOT/scripts/peers-setup.sh")
rc=$?
LIBDIR=$(printf '%s\n' "$setup_out" | tail -1)
if [ "$rc" = 77 ]; then say "skipped: npm unreachable, llama.cpp peer not installed"; exit 77; fi
if [ "$rc" != 0 ] || [ ! -f "$LIBDIR/libllama.v0.5.0.so" ]; then say "peers-setup.sh failed (rc $rc)"; exit 1; fi

for m in "${MODEL_ORDER[@]}"; do
    [ -f "${IN[$m]}" ] || { say "missing ${IN[$m]} (set EDGEQ_SHARED); skipped"; exit 77; }
done
[ -x "$EDGEQ" ] || { say "missing $EDGEQ (build the edgeq target first)"; exit 1; }

# -- driver (libc, libdl, no llama.cpp headers) --------------------------------------------------------
rm -rf "$OUT"
mkdir -p "$WORK" "$OUT"
DRIVER=$WORK/llama_quantize
SRC=$ROOT/tests/interop/llama_quantize.cpp
if [ ! -x "$DRIVER" ] || [ "$SRC" -nt "$DRIVER" ] || [ "$ROOT/tests/interop/llama_dl.h" -nt "$DRIVER" ]; then
    say "building $DRIVER"
    "${CXX:-c++}" -std=c++20 -O2 -Wall -Wextra -Wshadow "$SRC" -o "$DRIVER.tmp" -ldl && mv "$DRIVER.tmp" "$DRIVER" \
        || { say "cannot build the driver"; exit 1; }
fi

rows=()    # summary table rows
notes=()   # differences worth reading
declare -A byte_diffs=()   # "DIFF lines" -> cases whose files differ only that way (types equal)
byte_diff_order=()

# one_case NAME IN TYPE [options...]: llama.cpp and edgeq quantize IN with TYPE and the options, then compare.
# Sets $case_result to the summary row.
one_case() {
    local name=$1 in=$2 T=$3; shift 3
    local L=$OUT/$name.llama.gguf E=$OUT/$name.edgeq.gguf opts=${*:-"-"}
    opts=${opts//$OUT\//}
    "$DRIVER" --lib "$LIBDIR" --threads "$THREADS" "$@" "$in" "$L" "$T" >"$OUT/$name.llama.log" 2>&1
    local lr=$?
    if [ "$lr" = 3 ]; then
        local why
        why=$(sed -n 's/^REFUSED .*: //p' "$OUT/$name.llama.log")
        say "$name: llama.cpp refuses ($why); case skipped"
        rows+=("$name | $T | $opts | llama.cpp refuses: $why | - | -")
        return
    elif [ "$lr" != 0 ]; then
        fail "$name: llama.cpp driver error (rc $lr, see $OUT/$name.llama.log)"; tail -5 "$OUT/$name.llama.log"
        rows+=("$name | $T | $opts | DRIVER ERROR | - | -")
        return
    fi
    if ! "$EDGEQ" quantize -q -t "$THREADS" "$@" "$in" "$E" "$T" >"$OUT/$name.edgeq.log" 2>&1; then
        fail "$name: edgeq quantize failed: $(tail -1 "$OUT/$name.edgeq.log")"
        rows+=("$name | $T | $opts | edgeq FAILED | - | -")
        return
    fi
    "$DRIVER" --compare --lib "$LIBDIR" --labels edgeq,llama.cpp "$E" "$L" >"$OUT/$name.compare.log" 2>&1
    local cr=$? sum types bytes
    sum=$(grep '^SUMMARY' "$OUT/$name.compare.log")
    case $cr in
        0) types=yes; bytes=yes ;;
        3) types=yes; bytes="NO ($(echo "$sum" | sed 's/.*data=\([^ ]*\) metadata=\([^ ]*\).*/data \1, metadata \2/'))"
           local key
           key=$(grep '^DIFF' "$OUT/$name.compare.log" | grep -v '^DIFF file:')
           [ -n "${byte_diffs[$key]+x}" ] || byte_diff_order+=("$key")
           byte_diffs[$key]+="$name " ;;
        1) types=NO; bytes=no
           fail "$name: per-tensor types differ from llama.cpp's:"
           grep '^DIFF' "$OUT/$name.compare.log" | sed 's/^/    /'
           notes+=("$name: TYPES DIFFER:")
           while IFS= read -r l; do notes+=("    $l"); done < <(grep '^DIFF' "$OUT/$name.compare.log") ;;
        *) fail "$name: compare error (see $OUT/$name.compare.log)"; tail -3 "$OUT/$name.compare.log"
           types="?"; bytes="?" ;;
    esac
    rows+=("$name | $T | $opts | ok | $types | $bytes")
}

# -- 1. every file type ----------------------------------------------------------------------------------
say "1. file types (threads $THREADS)"
for m in "${MODEL_ORDER[@]}"; do
    for T in "${TYPES[@]}"; do
        one_case "$m-$T" "${IN[$m]}" "$T"
        fx=$MODELS/$m-$T.gguf
        if [ "$m" = stories260K ] && [ "$T" != F16 ] && [ -f "$fx" ] && [ -f "$OUT/$m-$T.llama.gguf" ]; then
            if "$DRIVER" --compare --lib "$LIBDIR" --labels live,fixture "$OUT/$m-$T.llama.gguf" "$fx" \
                    >"$OUT/$m-$T.fixture.log" 2>&1; then
                rows[-1]+=" | llama.cpp live = fixture"
            else
                fail "$m-$T: llama.cpp's live output differs from its stored $fx (driver or peer problem):"
                grep '^DIFF' "$OUT/$m-$T.fixture.log" | head -5 | sed 's/^/    /'
                rows[-1]+=" | llama.cpp live DIFFERS from fixture"
            fi
        fi
    done
done

# -- 2. options ------------------------------------------------------------------------------------------
say "2. options"
W=${IN[shakespeare-wiki-4M]}
one_case wiki-pure-Q4_0 "$W" Q4_0 --pure
one_case wiki-pure-Q4_K_M "$W" Q4_K_M --pure
one_case wiki-Q4_K_M-output-Q8_0 "$W" Q4_K_M --output-tensor-type Q8_0
one_case wiki-Q4_K_M-embd-Q6_K "$W" Q4_K_M --token-embedding-type Q6_K
one_case wiki-Q4_K_M-tensor-types "$W" Q4_K_M --tensor-type 'blk\.[01]\.ffn_down=Q8_0' --tensor-type 'attn_q=Q5_0'

# Forced types the rows cannot hold (stories260K: ne0 64 and 172): edgeq must refuse, naming the tensor.
strict_case() {  # strict_case NAME TYPE [options...]
    local name=$1 T=$2; shift 2
    local L=$OUT/$name.llama.gguf E=$OUT/$name.edgeq.gguf llama
    "$DRIVER" --lib "$LIBDIR" --threads "$THREADS" "$@" "${IN[stories260K]}" "$L" "$T" >"$OUT/$name.llama.log" 2>&1
    case $? in
        0) llama="writes it, $(sed -n 's/.* \([0-9]* fallbacks\),.*/\1/p' "$OUT/$name.llama.log")" ;;
        3) llama="refuses: $(sed -n 's/^REFUSED .*: //p' "$OUT/$name.llama.log")" ;;
        *) llama="crashes or fails (see $name.llama.log)" ;;
    esac
    if "$EDGEQ" quantize -q -t "$THREADS" "$@" "${IN[stories260K]}" "$E" "$T" >"$OUT/$name.edgeq.log" 2>&1; then
        fail "$name: edgeq accepted a forced type the rows cannot hold"
        rows+=("$name | $T | $* | $llama | edgeq ACCEPTED | -")
    elif grep -q "row length" "$OUT/$name.edgeq.log"; then
        rows+=("$name | $T | $* | $llama | edgeq refuses (by design) | -")
        notes+=("$name: edgeq: $(grep -m1 'row length' "$OUT/$name.edgeq.log"); llama.cpp $llama")
    else
        fail "$name: edgeq failed without naming the row length: $(tail -1 "$OUT/$name.edgeq.log")"
        rows+=("$name | $T | $* | $llama | edgeq error | -")
    fi
}
strict_case stories-pure-Q4_0 Q4_0 --pure
strict_case stories-Q4_K_M-embd-Q6_K Q4_K_M --token-embedding-type Q6_K

# -- 3. importance matrix ----------------------------------------------------------------------------------
# A synthetic imatrix GGUF per model (llama-imatrix's layout, written by the driver); llama.cpp gets what
# llama-quantize --imatrix passes (values, quantize.imatrix.* kv overrides), edgeq gets --imatrix FILE.
say "3. --imatrix"
for m in "${MODEL_ORDER[@]}"; do
    im=$OUT/$m.imatrix.gguf
    if ! "$DRIVER" --make-imatrix "${IN[$m]}" --lib "$LIBDIR" "$im" >"$OUT/$m.imatrix.log" 2>&1; then
        fail "cannot write $im: $(tail -1 "$OUT/$m.imatrix.log")"
        continue
    fi
    for T in "${TYPES[@]}"; do one_case "$m-$T-imatrix" "${IN[$m]}" "$T" --imatrix "$im"; done
done

# -- summary -------------------------------------------------------------------------------------------------
echo
say "summary (files and logs in $OUT)"
{
    echo "case | type | options | llama.cpp | types equal | bytes identical"
    for r in "${rows[@]}"; do echo "$r"; done
} | tee "$OUT/summary.txt" | sed 's/^/  /'
for k in "${byte_diff_order[@]}"; do
    notes+=("types equal, bytes differ: ${byte_diffs[$k]% }")
    while IFS= read -r l; do notes+=("    $l"); done <<<"$k"
done
if [ "${#notes[@]}" -gt 0 ]; then
    echo
    say "details"
    for n in "${notes[@]}"; do echo "  $n"; done
fi
if [ "$fails" -gt 0 ]; then say "$fails check(s) failed"; exit 1; fi
say "all checks passed"
