#!/usr/bin/env bash
# pytorch.sh THREADS ARGS... — run bench/pytorch_bench.py with Debian's torch on
# the OpenMP build of OpenBLAS (not the reference BLAS libblas.so.3 may point
# at), with the thread count fixed before torch is imported. Debian's python3
# (/usr/bin/python3) is used: python3-torch installs there. A first argument
# ending in .py names another script of bench/ (pytorch.sh 1 pytorch_train.py ...).
set -euo pipefail
threads=${1:?threads}; shift
omp=/usr/lib/x86_64-linux-gnu/openblas-openmp
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  echo "pytorch.sh: python3-torch is not installed (apt-get install python3-torch libopenblas0-openmp)" >&2
  exit 3
fi
[ -e "$omp/libblas.so.3" ] || { echo "pytorch.sh: $omp/libblas.so.3 missing (libopenblas0-openmp)" >&2; exit 3; }
export LD_LIBRARY_PATH="$omp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads
script=pytorch_bench.py
case "${1:-}" in *.py) script=$1; shift ;; esac
exec /usr/bin/python3 "$(dirname "$0")/$script" --threads "$threads" "$@"
