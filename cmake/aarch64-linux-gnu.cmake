# Cross-compiles for 64-bit ARM (Raspberry Pi 4/5, Jetson) with Debian's
# aarch64-linux-gnu toolchain and :arm64 library packages; binaries run here
# under qemu-aarch64 (plain, without -L: see docs/ARCHITECTURE.md).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64)

# prometheus-cpp's and civetweb's arm64 development files cannot be
# installed beside the amd64 ones (civetweb is not multi-arch), so
# deploy/install-deps.sh unpacks them into this folder instead.
set(SPEX_ARM64_EXTRA_ROOT "/opt/spex-arm64" CACHE PATH
  "Where install-deps.sh unpacked the arm64 prometheus-cpp and civetweb")
set(prometheus-cpp_DIR
  "${SPEX_ARM64_EXTRA_ROOT}/usr/lib/aarch64-linux-gnu/cmake/prometheus-cpp")
set(civetweb_DIR "${SPEX_ARM64_EXTRA_ROOT}/usr/lib/aarch64-linux-gnu/cmake/civetweb")

# pkg-config (gRPC's config finds RE2 and OpenSSL through it) must report
# the arm64 libraries, not the build machine's.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(OPENSSL_ROOT_DIR "/usr/lib/aarch64-linux-gnu")
