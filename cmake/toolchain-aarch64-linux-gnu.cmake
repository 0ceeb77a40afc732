# Cross-building for arm64 (aarch64) on a Debian 12 amd64 machine, from Debian's multiarch
# packages: crossbuild-essential-arm64 (the compilers) and the lib*-dev:arm64 packages that
# `tools/install-deps.sh --arm64` installs (docs/deploy.md, "arm64").
#   cmake -S . -B build/arm64 -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64-linux-gnu.cmake
# Tests and tools run under qemu-user: CMAKE_CROSSCOMPILING_EMULATOR is what CTest and
# gtest_discover_tests put before every program of this build.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(EARSHOT_TRIPLET aarch64-linux-gnu)
set(CMAKE_LIBRARY_ARCHITECTURE ${EARSHOT_TRIPLET})

set(CMAKE_C_COMPILER ${EARSHOT_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${EARSHOT_TRIPLET}-g++)

# Libraries and pkg-config files for arm64 only; headers and CMake packages of the header-only
# libraries (nlohmann-json, CLI11, toml++) are architecture-independent and found where they are.
# libwebsockets-dev cannot be installed for two architectures at once (its lws_config.h differs
# in one path string), so install-deps.sh unpacks its arm64 libraries to EARSHOT_ARM64_LWS_ROOT.
set(EARSHOT_ARM64_LWS_ROOT /opt/earshot-cross/arm64-libwebsockets-dev)
set(ENV{PKG_CONFIG_LIBDIR}
    "${EARSHOT_ARM64_LWS_ROOT}/pkgconfig:/usr/lib/${EARSHOT_TRIPLET}/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "")
list(APPEND CMAKE_LIBRARY_PATH ${EARSHOT_ARM64_LWS_ROOT}/lib)

# Search programs on the build machine, libraries only in arm64's directories.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)

# qemu-aarch64 (qemu-user) runs this build's programs. libc6:arm64 comes with the -dev:arm64
# packages, so the arm64 loader and its library paths are the host's own multiarch ones.
find_program(EARSHOT_QEMU_AARCH64 qemu-aarch64 REQUIRED)
set(CMAKE_CROSSCOMPILING_EMULATOR ${EARSHOT_QEMU_AARCH64})

# Debian packages for arm64: dpkg-shlibdeps reads the arm64 libraries' symbols files.
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE arm64)
