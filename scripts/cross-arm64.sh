#!/usr/bin/env bash
# Cross-builds the device's programs for 64-bit ARM (Raspberry Pi OS 64-bit,
# Jetson's Ubuntu arm64) and packages them:
#   build/aarch64/package/spex-edge-VERSION-arm64.tar.gz
#     bin/spex-edge, bin/spex-replay, bin/spex-health   (stripped)
#     spex-edge.service      the systemd unit
#     edge.flags             an example flagfile
#     models/fashion-default.spex
#     runtime-packages.txt   the Debian arm64 packages the binaries need
#     DEPLOY.md              the install walk-through
# The build tree is the one scripts/test.sh tests (with the tests built and
# run under qemu-aarch64 there).
#
# Usage: scripts/cross-arm64.sh [--skip-install]
set -euo pipefail
cd "$(dirname "$0")/.."

skip_install=0
for arg in "$@"; do
  case "$arg" in
    --skip-install) skip_install=1 ;;
    *) echo "cross-arm64.sh: unknown argument '$arg'" >&2; exit 2 ;;
  esac
done
if [[ $skip_install -eq 0 ]]; then ./deploy/install-deps.sh; fi

build=build/aarch64
cmake -S . -B $build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DSPEX_PARTS=edge
cmake --build $build -j "$(nproc)"

version=$(sed -n 's/^project(spex VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
name=spex-edge-$version-arm64
stage=$build/package/$name
rm -rf "$stage" "$stage.tar.gz"
mkdir -p "$stage/bin" "$stage/models"
for binary in edge_agent/spex-edge tools/spex-replay tools/spex-health; do
  aarch64-linux-gnu-strip -o "$stage/bin/$(basename $binary)" "$build/$binary"
done
cp deploy/edge/spex-edge.service deploy/edge/edge.flags docs/DEPLOY.md "$stage/"
cp results/fashion-default.spex "$stage/models/"

# The runtime packages: the package of every shared library the binaries
# link directly (apt installs what those need in turn). prometheus-cpp's
# arm64 libraries were unpacked, not installed, here: their package names
# follow Debian's rule for library packages (libNAME.so.V -> libNAMEV).
library_package() {  # soname
  local dir owner
  for dir in /usr/lib/aarch64-linux-gnu /lib/aarch64-linux-gnu; do
    if owner=$(dpkg -S "$dir/$1" 2>/dev/null); then
      echo "${owner%%:*}"
      return
    fi
  done
  if [[ -e /opt/spex-arm64/usr/lib/aarch64-linux-gnu/$1 ]]; then
    echo "$1" | sed 's/\.so\./ /; s/^\(.*[0-9]\) /\1-/; s/ //'
    return
  fi
  echo "cross-arm64.sh: no package provides $1" >&2
  exit 1
}
for binary in "$stage"/bin/*; do
  aarch64-linux-gnu-readelf -d "$binary" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'
done | sort -u | while read -r soname; do library_package "$soname"; done |
  sort -u > "$stage/runtime-packages.txt"

tar -C "$build/package" -czf "$stage.tar.gz" "$name"
echo "cross-arm64.sh: $stage.tar.gz ($(du -h "$stage.tar.gz" | cut -f1)); runtime packages:"
sed 's/^/  /' "$stage/runtime-packages.txt"
