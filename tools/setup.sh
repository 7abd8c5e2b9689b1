#!/usr/bin/env bash
# setup.sh — install, with apt, exactly the Debian packages lnet needs that are
# missing. Idempotent: when everything is present it only runs dpkg-query.
# Works as root or through sudo; fails with a clear message otherwise.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  llvm-19-dev libzstd-dev
  libopenblas-pthread-dev zlib1g-dev libcriterion-dev
  libopenmpi-dev openmpi-bin
  dataset-fashion-mnist fortunes gnuplot-nox libonnx-testdata
  python3-torch python3-onnx graphviz
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  echo "setup: error: need root or sudo to install: ${missing[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
if ! "${SUDO[@]}" apt-get update -qq; then
  echo "setup: error: 'apt-get update' failed; cannot reach the Debian archive" >&2
  exit 1
fi
if ! "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
  echo "setup: error: 'apt-get install ${missing[*]}' failed (see above)" >&2
  exit 1
fi
echo "setup: done"
