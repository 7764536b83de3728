#!/bin/bash
# scripts/asan-e2e.sh [BUILD_DIR] [CTEST_ARGS...]: the CLI end-to-end tests (ctest label e2e of BUILD_DIR, default
# build) with every edgeq they start replaced by the sanitized CLI of build-asan (scripts/asan-build.sh builds it;
# EDGEQ_TEST_WRAPPER=scripts/asan-edgeq.sh). Each edgeq process writes any ASan / LeakSanitizer / UBSan report to
# its own file under BUILD_DIR/asan-e2e (log_path), so a report in a process whose test expects a failing exit
# status is still caught: the script fails if a test fails or if any report file exists, and prints their heads.
# Skipped under the wrapper, with a message: the RLIMIT_AS test (ASan reserves terabytes of shadow address space)
# and the peak-RSS calibration test (it would measure ASan's shadow memory).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd) || exit 2
shift || true
OUT=$BUILD/asan-e2e
[ -x "$BUILD/test_cli" ] || { echo "asan-e2e: build test_cli in $BUILD first (make build)" >&2; exit 2; }
bash "$ROOT/scripts/asan-build.sh" edgeq || exit 2
rm -rf "$OUT" && mkdir -p "$OUT"
export EDGEQ_TEST_WRAPPER="$ROOT/scripts/asan-edgeq.sh"
export ASAN_OPTIONS="detect_leaks=1:log_path=$OUT/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$OUT/ubsan"
start=$(date +%s)
(cd "$BUILD" && ctest --output-on-failure -j "${JOBS:-$(nproc)}" -L e2e "$@")
rc=$?
end=$(date +%s)
reports=$(ls "$OUT" | wc -l)
echo "asan-e2e: $((end - start)) s, ctest rc $rc, $reports sanitizer report file(s) in $OUT"
for f in "$OUT"/*; do [ -f "$f" ] && { echo "== $f"; head -40 "$f"; }; done
[ "$rc" -eq 0 ] && [ "$reports" -eq 0 ]
