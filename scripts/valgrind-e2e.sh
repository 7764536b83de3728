#!/usr/bin/env bash
# scripts/valgrind-e2e.sh [BUILD_DIR] [GTEST_FILTER]: runs the CLI e2e tests (BUILD_DIR/test_cli, default build)
# with every build/edgeq they start wrapped in
#   valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect
# (issue 10 item 5). Each edgeq process writes its own log (vg.<pid>.log); the script then counts the logs whose
# ERROR SUMMARY is not 0 and exits 1 if there is any (a test that expects exit 0 also fails on valgrind's exit 1).
# Skipped under the wrapper, with a message: the RLIMIT_AS test (valgrind needs the address space) and the
# peak-RSS calibration test (it would measure valgrind). Valgrind 3.19 has no AVX-512: edgeq's cpuid dispatch
# sees AVX2 and runs those paths. scripts/valgrind.supp holds the (explained) suppressions. Slow (~50x): a full run takes about an hour on one core.
# Env: EDGEQ_SHARED (default ../shared), VG_OUT (default BUILD_DIR/valgrind-e2e).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd) || exit 2
FILTER=${2:-*}
OUT=${VG_OUT:-$BUILD/valgrind-e2e}
[ -x "$BUILD/test_cli" ] && [ -x "$BUILD/edgeq" ] || { echo "valgrind-e2e: build test_cli and edgeq in $BUILD first" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "valgrind-e2e: valgrind not installed (apt-get install valgrind)" >&2; exit 2; }
rm -rf "$OUT" && mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
export EDGEQ_TEST_WRAPPER="valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect --num-callers=30 --suppressions=$ROOT/scripts/valgrind.supp --log-file=$OUT/vg.%p.log"
start=$(date +%s)
(cd "$BUILD" && ./test_cli --gtest_filter="$FILTER" >"$OUT/test_cli.log" 2>&1)
rc=$?
end=$(date +%s)
logs=$(ls "$OUT"/vg.*.log 2>/dev/null | wc -l)
# A process the tests kill with SIGKILL (atomic-output test) never writes its summary: counted apart.
bad=$(grep -lE "ERROR SUMMARY: [1-9]" "$OUT"/vg.*.log 2>/dev/null)
nbad=$(printf '%s' "$bad" | grep -c . || true)
nokill=$(grep -L "ERROR SUMMARY" "$OUT"/vg.*.log 2>/dev/null | grep -c . || true)
tests=$(grep -o '\[  PASSED  \] [0-9]* test' "$OUT/test_cli.log" | grep -o '[0-9]*' | head -1)
failed=$(grep -cE "^\[  FAILED  \] .* \([0-9]+ ms\)$" "$OUT/test_cli.log" || true)
skipped=$(grep -cE "^\[  SKIPPED \] .* \([0-9]+ ms\)$" "$OUT/test_cli.log" || true)
echo "valgrind-e2e: $((end - start)) s, test_cli rc $rc: ${tests:-0} passed, $failed failed, $skipped skipped; $logs edgeq processes under valgrind (forked shape-inference children included), $nbad with errors, $nokill killed before their summary"
for f in $bad; do echo "  $f:"; grep -m3 -A12 "^==[0-9]*== [A-Z]" "$f" | head -30; done
[ "$rc" -eq 0 ] && [ "$nbad" -eq 0 ]
