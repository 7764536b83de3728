#!/usr/bin/env bash
# Installs the peer implementations edgeq is checked against into <repo>/.peers/ (gitignored):
#   @node-llama-cpp/linux-x64@3.22.1  prebuilt llama.cpp/ggml (commit 0ad4a86): libllama.v0.5.0.so,
#                                     libggml-base.so, libggml.v0.5.0.so, libggml-cpu-<variant>.so
# Installed with the ordinary npm client, lifecycle scripts off:
#   npm i --prefix .peers --ignore-scripts --no-audit --no-fund @node-llama-cpp/linux-x64@3.22.1
#
# Usage: scripts/peers-setup.sh            install if missing, then print the library folder
#        PEERS_DIR=/elsewhere scripts/...   install somewhere else (default: <repo>/.peers)
#
# Idempotent: an existing install of the pinned version with all libraries present is reused
# without touching the network.
#
# Exit status:
#   0   installed (or already present); the last line of stdout is the library folder
#   77  skipped: npm is missing or the registry cannot be reached (CTest treats 77 as "skipped")
#   1   anything else (npm reached the registry but the install or the check failed)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS_DIR=${PEERS_DIR:-$ROOT/.peers}
PKG=@node-llama-cpp/linux-x64
VERSION=3.22.1
LIBDIR=$PEERS_DIR/node_modules/$PKG/bins/linux-x64
REQUIRED=(libllama.v0.5.0.so libggml-base.so libggml.v0.5.0.so libggml-cpu-x64.so)

skip() { echo "peers-setup: skipped: $*" >&2; exit 77; }

installed_ok() {
    local pj=$PEERS_DIR/node_modules/$PKG/package.json
    [ -f "$pj" ] || return 1
    grep -q "\"version\": \"$VERSION\"" "$pj" || return 1
    local f
    for f in "${REQUIRED[@]}"; do [ -f "$LIBDIR/$f" ] || return 1; done
}

if installed_ok; then
    echo "peers-setup: $PKG@$VERSION already installed" >&2
    echo "$LIBDIR"
    exit 0
fi

command -v npm >/dev/null 2>&1 || skip "npm not found (install Node.js >= 20 to run the llama.cpp interop checks)"

# Reachability first, so an offline machine gets a clear skip instead of a long npm error.
if ! timeout 60 npm view "$PKG@$VERSION" version >/dev/null 2>&1; then
    skip "npm unreachable (cannot fetch $PKG@$VERSION from $(npm config get registry 2>/dev/null || echo the registry))"
fi

mkdir -p "$PEERS_DIR"
# A private package.json keeps npm from walking up into a parent project.
[ -f "$PEERS_DIR/package.json" ] || echo '{ "name": "edgeq-peers", "private": true }' >"$PEERS_DIR/package.json"
echo "peers-setup: installing $PKG@$VERSION into $PEERS_DIR" >&2
log=$PEERS_DIR/npm-install.log
if ! timeout 600 npm i --prefix "$PEERS_DIR" --ignore-scripts --no-audit --no-fund --loglevel=error \
        "$PKG@$VERSION" >"$log" 2>&1; then
    # A network error in the middle of the download is still "unreachable", not a test failure.
    if grep -qiE 'ENOTFOUND|ETIMEDOUT|ECONNRESET|ECONNREFUSED|EAI_AGAIN|network' "$log"; then
        skip "npm unreachable during install (see $log)"
    fi
    echo "peers-setup: npm install failed (see $log):" >&2
    tail -20 "$log" >&2
    exit 1
fi

if ! installed_ok; then
    echo "peers-setup: $PKG@$VERSION installed but libraries are missing under $LIBDIR" >&2
    exit 1
fi
echo "peers-setup: installed $PKG@$VERSION" >&2
echo "$LIBDIR"
