#!/usr/bin/env bash
# Installs every Debian package that spex's build, tests and benchmarks need.
# Idempotent: packages already present are skipped, so a second run costs a
# few dpkg queries. apt-get only; nothing is downloaded outside Debian.
#
# Usage: deploy/install-deps.sh [--no-arm64]
#   --no-arm64  skip the aarch64 cross toolchain and arm64 libraries.
set -euo pipefail

with_arm64=1
for arg in "$@"; do
  case "$arg" in
    --no-arm64) with_arm64=0 ;;
    *) echo "install-deps.sh: unknown argument '$arg'" >&2; exit 2 ;;
  esac
done

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

# Build and test toolchain, libraries the code links, benchmark baselines,
# the sanitizer/fuzzer runtime and the datasets.
host_packages=(
  build-essential cmake ninja-build ccache pkg-config git
  clang-14 libclang-rt-14-dev llvm-14 clang-format-14
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc
  libprotobuf-dev protobuf-compiler
  libabsl-dev libeigen3-dev prometheus-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  zlib1g-dev libssl-dev
  libxnnpack-dev libpthreadpool-dev libdnnl-dev
  # spex-model import reads ONNX with Debian's schema (libonnx_proto).
  libonnx-dev
  dataset-fashion-mnist
  python3
  # The daemons' tests: the gRPC health proto for clients, a Python gRPC
  # client, promtool, openssl for test certificates, curl for scrapes.
  grpc-proto python3-grpcio python3-protobuf prometheus openssl curl
  # Hostile-client tests: a raw HTTP/2 client that withholds its window.
  python3-h2
  # The PyTorch package (python/spex) and its tests (pip into a venv).
  python3-torch python3-venv python3-pip
  # The tabular example (scripts/example-tabular.sh): scikit-learn's own
  # datasets, written as CSV and .npz.
  python3-sklearn
  # systemd-analyze checks the edge agent's unit file.
  systemd
  # The container tests: podman builds and runs the images (runc; netavark
  # and aardvark-dns give compose networks their DNS names), debootstrap
  # makes the base image, podman-compose runs docker-compose.yml.
  podman runc netavark aardvark-dns iptables catatonit debootstrap podman-compose
)

# The common library and the edge agent, with their tests, cross-build for
# aarch64 and run under qemu-user. prometheus-cpp's arm64 package cannot be
# installed beside the amd64 one (its civetweb dependency is not
# multi-arch): see unpack_arm64_prometheus below.
arm64_packages=(
  g++-aarch64-linux-gnu qemu-user
  libabsl-dev:arm64 libprotobuf-dev:arm64 zlib1g-dev:arm64
  libgtest-dev:arm64 libgmock-dev:arm64
  libgrpc++-dev:arm64 libssl-dev:arm64 libcurl4-openssl-dev:arm64
)
# The Kubernetes manifests' offline schema check (npm packages, pinned).
node_prefix=/opt/spex-node
node_packages=(kubernetes-models@4.5.1 js-yaml@4.1.0)

# Unpacked, not installed, into this folder (cmake/aarch64-linux-gnu.cmake
# looks there): prometheus-cpp for the edge agent, and XNNPACK for the arm64
# kernel benchmark (installing libxnnpack-dev:arm64 would remove the amd64
# one, the x86 benchmark's baseline).
arm64_extra_root=/opt/spex-arm64
arm64_unpacked=(
  prometheus-cpp-dev:arm64 libprometheus-cpp-core1.0:arm64
  libprometheus-cpp-pull1.0:arm64 libprometheus-cpp-push1.0:arm64
  libcivetweb-dev:arm64 libcivetweb1:arm64
  civetweb:arm64
  libxnnpack-dev:arm64 libxnnpack0:arm64 libpthreadpool-dev:arm64
  libpthreadpool0:arm64 libcpuinfo-dev:arm64 libcpuinfo0:arm64
)
# QEMU's plugin API header, which no binary package ships: taken from
# Debian's qemu source package through a private apt configuration (a
# deb-src entry for Debian's own mirror) that leaves the system's alone.
qemu_plugin_header=$arm64_extra_root/qemu-plugin/include/qemu-plugin.h

missing() {
  local pkg
  for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      echo "$pkg"
    fi
  done
}

updated=0
apt_update_once() {
  if [[ $updated -eq 0 ]]; then
    $SUDO apt-get update -q
    updated=1
  fi
}

wanted=("${host_packages[@]}")
if [[ $with_arm64 -eq 1 ]]; then
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    $SUDO dpkg --add-architecture arm64
  fi
  wanted+=("${arm64_packages[@]}")
fi

unpack_arm64_extras() {
  local marker=$arm64_extra_root/usr/lib/aarch64-linux-gnu/cmake/prometheus-cpp/prometheus-cpp-config.cmake
  [[ -f $marker && -f $arm64_extra_root/usr/bin/civetweb &&
     -f $arm64_extra_root/usr/lib/aarch64-linux-gnu/libprometheus-cpp-push.so.1.0.1 &&
     -f $arm64_extra_root/usr/lib/aarch64-linux-gnu/libXNNPACK.so.0 &&
     -f $arm64_extra_root/usr/include/cpuinfo.h ]] && return
  echo "install-deps.sh: unpacking ${arm64_unpacked[*]} into $arm64_extra_root"
  apt_update_once
  local download
  download=$(mktemp -d)
  chmod 755 "$download"  # apt's sandbox user writes here
  (cd "$download" && $SUDO apt-get download -q "${arm64_unpacked[@]}")
  $SUDO mkdir -p $arm64_extra_root
  for deb in "$download"/*.deb; do $SUDO dpkg-deb -x "$deb" $arm64_extra_root; done
  rm -rf "$download"
}

mapfile -t todo < <(missing "${wanted[@]}")
if [[ ${#todo[@]} -eq 0 ]]; then
  echo "install-deps.sh: all ${#wanted[@]} packages present"
else
  echo "install-deps.sh: installing ${#todo[@]} packages: ${todo[*]}"
  apt_update_once
  $SUDO apt-get install -y -q --no-install-recommends "${todo[@]}"
fi
fetch_qemu_plugin_header() {
  [[ -f $qemu_plugin_header ]] && return
  echo "install-deps.sh: fetching qemu-plugin.h from Debian's qemu source package"
  local work
  work=$(mktemp -d)
  chmod 755 "$work"
  mkdir -p "$work/parts" "$work/lists/partial" "$work/cache/archives/partial" "$work/src"
  cat > "$work/parts/debian-src.sources" <<SOURCES
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  local apt_private=(-o "Dir::Etc::SourceList=/dev/null"
    -o "Dir::Etc::SourceParts=$work/parts" -o "Dir::State::Lists=$work/lists"
    -o "Dir::Cache=$work/cache")
  apt-get "${apt_private[@]}" -q update
  (cd "$work/src" && apt-get "${apt_private[@]}" -q source --download-only qemu)
  tar -xJf "$work"/src/qemu_*.orig.tar.xz -C "$work/src" --wildcards \
    '*/include/qemu/qemu-plugin.h'
  $SUDO mkdir -p "$(dirname "$qemu_plugin_header")"
  $SUDO cp "$work"/src/qemu-*/include/qemu/qemu-plugin.h "$qemu_plugin_header"
  rm -rf "$work"
}

if [[ $with_arm64 -eq 1 ]]; then
  unpack_arm64_extras
  fetch_qemu_plugin_header
fi

# npm itself from Debian when the machine has no Node.js yet.
if ! command -v npm >/dev/null; then
  apt_update_once
  $SUDO apt-get install -y -q --no-install-recommends nodejs npm
fi
if [[ ! -f $node_prefix/node_modules/kubernetes-models/package.json ||
      ! -f $node_prefix/node_modules/js-yaml/package.json ]]; then
  echo "install-deps.sh: npm packages ${node_packages[*]} into $node_prefix"
  $SUDO mkdir -p $node_prefix
  $SUDO npm install --prefix $node_prefix --no-audit --no-fund "${node_packages[@]}"
fi

