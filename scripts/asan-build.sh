#!/bin/bash
# scripts/asan-build.sh TARGET...: configures (once) and builds the one sanitizer build, build-asan (EDGEQ_ASAN_BUILD):
# clang-14 (LLVM_DIR, default /usr/lib/llvm-14), -O2 with line tables and frame pointers, AddressSanitizer +
# UndefinedBehaviorSanitizer (no recovery: the first report aborts). The fuzz targets link their own copy of the
# reader libraries with libFuzzer coverage (-fsanitize=fuzzer-no-link; CMakeLists.txt, edgeq_fuzz_readers).
# It holds the unit tests (`make test-asan`), the sanitized edgeq CLI that the end-to-end tests run through
# scripts/asan-edgeq.sh, and the libFuzzer targets (`make test-fuzz`, scripts/fuzz.sh): one build instead of three.
# Unity build by default (EDGEQ_UNITY=OFF for incremental work). Builds under the build lock (EDGEQ_BUILD_LOCK, default /tmp/edgeq-build.lock) so two builds never share 2 cores.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${EDGEQ_ASAN_BUILD:-$ROOT/build-asan}
LLVM=${LLVM_DIR:-/usr/lib/llvm-14}
LOCK=${EDGEQ_BUILD_LOCK:-/tmp/edgeq-build.lock}
JOBS=${JOBS:-$(nproc)}
GEN=(); command -v ninja >/dev/null && GEN=(-G Ninja)

if [ ! -x "$LLVM/bin/clang++" ]; then
  echo "asan-build: $LLVM/bin/clang++ not found (scripts/install-deps.sh --fuzz installs clang-14)" >&2
  exit 2
fi
mkdir -p "$B"
# A build dir made by another recipe (gcc, other flags; bump RECIPE when the configure line changes) starts over.
RECIPE="asan-build v2 $LLVM unity=${EDGEQ_UNITY:-ON}"
if [ -f "$B/CMakeCache.txt" ] && [ "$(cat "$B/.recipe" 2>/dev/null)" != "$RECIPE" ]; then
  rm -rf "$B"; mkdir -p "$B"
fi
if [ ! -f "$B/CMakeCache.txt" ]; then
  flock "$LOCK" cmake -S "$ROOT" -B "$B" "${GEN[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER="$LLVM/bin/clang" -DCMAKE_CXX_COMPILER="$LLVM/bin/clang++" \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -gline-tables-only" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -gline-tables-only" \
    -DCMAKE_UNITY_BUILD="${EDGEQ_UNITY:-ON}" -DEDGEQ_SANITIZE=ON -DEDGEQ_FUZZ=ON -DEDGEQ_BUILD_TESTS=ON -DEDGEQ_BUILD_E2E=OFF -DEDGEQ_BUILD_BENCH=OFF \
    >"$B/configure.log" 2>&1 || { cat "$B/configure.log"; exit 2; }
  echo "$RECIPE" >"$B/.recipe"
fi
flock "$LOCK" cmake --build "$B" -j "$JOBS" --target "${@:-all}"
