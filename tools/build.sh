#!/usr/bin/env bash
# build.sh [DIR] [cmake options...] — configure and build lnet into DIR (default build/).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}; shift || true
extra=()
[ "${CI:-}" = "true" ] && extra+=(-DLNET_WERROR=ON)
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${extra[@]}" "$@" >/dev/null
cmake --build "$dir" -j "$(nproc)"
