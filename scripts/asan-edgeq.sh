#!/bin/bash
# scripts/asan-edgeq.sh BUILD/edgeq ARGS...: the EDGEQ_TEST_WRAPPER of `make test-asan`'s end-to-end run. The e2e
# tests (test_cli of the release build) start "<wrapper> build/edgeq args..."; this runs the sanitized CLI from
# build-asan (EDGEQ_ASAN_BUILD) with the same arguments instead, in the same process (exec: pid, signals and exit
# status are the test's to see). ASan/UBSan reports abort with exit 1 ... and go to stderr, where the test sees them;
# each process also writes its report to $ASAN_LOG_DIR/<pid>.* when that is set, so the run can count them.
ROOT=$(cd "$(dirname "$0")/.." && pwd)
shift
exec "${EDGEQ_ASAN_BUILD:-$ROOT/build-asan}/edgeq" "$@"
