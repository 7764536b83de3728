#!/usr/bin/env bash
# Installs the Debian 12 packages edgeq needs to build, test and benchmark. Idempotent: installs
# only what is missing, so `make test` / `make demo` stay fast on a prepared machine.
set -euo pipefail

PKGS=(build-essential cmake pkg-config git
      libgtest-dev libgmock-dev libbenchmark-dev
      libcli11-dev nlohmann-json3-dev libfmt-dev zlib1g-dev
      libonnx-dev libprotobuf-dev protobuf-compiler
      libonnx-testdata dataset-fashion-mnist
      nodejs npm python3
      chromium)  # headless render test of `edgeq report` (tests/e2e/report_e2e_test.cpp; skips without it)
# --fuzz: also clang-14 and its compiler-rt (libFuzzer, ASan, UBSan runtimes) for scripts/fuzz.sh / `make test-fuzz`.
[ "${1:-}" = --fuzz ] && PKGS+=(clang-14 libclang-rt-14-dev)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# nodejs may come from elsewhere on a developer machine; only require npm/node binaries.
if command -v node >/dev/null && command -v npm >/dev/null; then
  tmp=(); for p in "${missing[@]}"; do [[ $p == nodejs || $p == npm ]] || tmp+=("$p"); done
  missing=("${tmp[@]+"${tmp[@]}"}")
fi
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
