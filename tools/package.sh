#!/usr/bin/env bash
# package.sh [DIR] — build lnet in Release mode in DIR (default build-pkg/)
# and make the Debian package lnet_VERSION_ARCH.deb there with cpack; then
# show its control data and files. Install it with: apt install ./DIR/lnet_*.deb
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-pkg}
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
cmake --build "$dir" -j "$(nproc)"
(cd "$dir" && cpack -G DEB >/dev/null)
deb=$(ls "$dir"/lnet_*.deb)
dpkg-deb -I "$deb"
dpkg -c "$deb"
echo "package.sh: $deb"
