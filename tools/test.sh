#!/usr/bin/env bash
# test.sh — the README's test command: install what is missing, build, run the
# whole test suite, then again under ASan + UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
export OPENBLAS_NUM_THREADS=1
tools/build.sh build
(cd build && ctest --output-on-failure -j 2)
if [ "${LNET_SKIP_SANITIZE:-0}" != "1" ]; then
  tools/build.sh build-asan -DLNET_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j 2)
fi
