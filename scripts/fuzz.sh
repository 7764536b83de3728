#!/bin/bash
# scripts/fuzz.sh [SECONDS] [TARGET...]: builds the libFuzzer targets in fuzz/ in the sanitizer build, build-asan
# (scripts/asan-build.sh: clang-14, ASan + UBSan, libFuzzer coverage on every library; EDGEQ_ASAN_BUILD), then runs
# each (default: all of gguf onnx llama2c npy npz idx) for SECONDS (default 60) on a working copy of its seed corpus
# fuzz/corpus/<t>. A crash, leak, sanitizer report, allocation over 512 MB or RSS over 2 GB stops that target and is
# saved as build-asan/fuzz-run/artifacts/<t>-*; the script then exits 1. One summary line per target: seconds, runs,
# result. EDGEQ_FUZZ_NOBUILD=1 runs the targets already built without rebuilding (no build lock wait); FUZZ_JOBS=N
# runs N targets at a time. CI runs `make test-fuzz` (60 s each, two at a time); record long runs in docs/results/fuzz.md.
set -u
SECS=${1:-60}
shift || true
TARGETS=${*:-gguf onnx llama2c npy npz idx}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export EDGEQ_ASAN_BUILD=${EDGEQ_ASAN_BUILD:-$ROOT/build-asan}
BIN=$EDGEQ_ASAN_BUILD/fuzz
B=$EDGEQ_ASAN_BUILD/fuzz-run  # corpora, logs, artifacts (made after the build: a new recipe wipes build-asan)
build=()
for t in $TARGETS; do
  [ "${EDGEQ_FUZZ_NOBUILD:-0}" = 1 ] && [ -x "$BIN/fuzz_$t" ] && continue  # reuse what is built
  build+=("fuzz_$t")
done
if ((${#build[@]})); then
  log=$(mktemp)
  bash "$ROOT/scripts/asan-build.sh" "${build[@]}" >"$log" 2>&1 || { tail -30 "$log"; rm -f "$log"; exit 2; }
  rm -f "$log"
fi
mkdir -p "$B"

mkdir -p "$B/artifacts"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# One target: fuzzes for SECS seconds and writes its summary line to $B/result_<t>.txt.
fuzz_one() {
  local t=$1 work="$B/corpus/$1" start end rc runs result
  mkdir -p "$work"
  start=$(date +%s)
  "$BIN/fuzz_$t" -max_total_time="$SECS" -rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=25 -print_final_stats=1 \
    -artifact_prefix="$B/artifacts/$t-" "$work" "$ROOT/fuzz/corpus/$t" >"$B/run_$t.log" 2>&1
  rc=$?
  end=$(date +%s)
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$B/run_$t.log" | grep -o '[0-9]*$' | tail -1)
  if [ $rc -eq 0 ]; then result=ok; else result="FAILED (rc $rc, see $B/run_$t.log)"; fi
  echo "fuzz_$t: $((end - start)) s, ${runs:-?} runs, corpus $(ls "$work" | wc -l) files: $result" >"$B/result_$t.txt"
}
# FUZZ_JOBS targets at a time (default 1; CI uses 2 on its 2 cores: each target still gets a whole core for SECS).
JOBS=${FUZZ_JOBS:-1}
for t in $TARGETS; do
  rm -f "$B/result_$t.txt"
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
  fuzz_one "$t" &
done
wait
status=0
for t in $TARGETS; do
  if [ -f "$B/result_$t.txt" ]; then cat "$B/result_$t.txt"; else echo "fuzz_$t: no result"; fi
  grep -q ': ok$' "$B/result_$t.txt" 2>/dev/null || { status=1; tail -40 "$B/run_$t.log"; }
done
exit $status
