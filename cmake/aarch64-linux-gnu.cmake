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
