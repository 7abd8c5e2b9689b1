#!/usr/bin/env bash
# test.sh — the README's test command: install what is missing, build, run the
# whole test suite; then again under ASan + UBSan; then a short libFuzzer run of
# each fuzz harness (clang). Set LNET_SKIP_SANITIZE=1 / LNET_SKIP_FUZZ=1 to skip those.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
export OPENBLAS_NUM_THREADS=1
jobs=$(nproc)

echo "== build and test (RelWithDebInfo)"
tools/build.sh build
(cd build && ctest --no-tests=error --output-on-failure -j "$jobs")

if [ "${LNET_SKIP_SANITIZE:-0}" != "1" ]; then
  echo "== build and test under ASan + UBSan"
  tools/build.sh build-asan -DLNET_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --no-tests=error --output-on-failure -j "$jobs")
fi

if [ "${LNET_SKIP_SANITIZE:-0}" != "1" ]; then
  echo "== the local schedule under ThreadSanitizer"
  tools/build.sh build-tsan -DLNET_TSAN=ON --target tsan_pipeline --target tsan_baselines --target lnet
  (cd build-tsan && ctest --no-tests=error --output-on-failure -R tsan_)
fi

if [ "${LNET_SKIP_FUZZ:-0}" != "1" ]; then
  echo "== fuzz smoke runs (libFuzzer: frontend, safetensors, idx, text, npy, step)"
  cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DLNET_FUZZ=ON \
        -DCMAKE_BUILD_TYPE=Debug >/dev/null
  cmake --build build-fuzz -j "$jobs" --target fuzzers >/dev/null
  (cd build-fuzz && ctest --output-on-failure --no-tests=error -R fuzz_)
fi
