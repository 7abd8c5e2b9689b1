#!/usr/bin/env bash
# build.sh [DIR] [cmake options...] [--target T] — configure and build lnet into DIR
# (default build/).
set -euo pipefail
cd "$(dirname "$0")/.."
# Other options go to cmake's configure step; each --target T adds T to what is built.
dir=${1:-build}; shift || true
conf=(); target=()
while [ $# -gt 0 ]; do
  case $1 in
    --target) target+=("$2"); shift 2 ;;
    *) conf+=("$1"); shift ;;
  esac
done
[ "${CI:-}" = "true" ] && conf+=(-DLNET_WERROR=ON)
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${conf[@]}" >/dev/null
if [ ${#target[@]} -gt 0 ]; then
  cmake --build "$dir" -j "$(nproc)" --target "${target[@]}"
else
  cmake --build "$dir" -j "$(nproc)"
fi
