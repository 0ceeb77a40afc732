#!/usr/bin/env bash
# Installs the Debian 12 (bookworm) packages Earshot needs. This is the one place dependencies are
# pinned: add a package here, nowhere else (npm packages: tests/realtime/package.json and its lock
# file, installed from here).
#   tools/install-deps.sh           everything: build, test, benchmark and run both programs (what
#                                   tools/test.sh and tools/demo.sh use)
#   tools/install-deps.sh --node    build, package and run earshot-node only (a room's board:
#                                   -DEARSHOT_BRIDGE=OFF -DBUILD_TESTING=OFF, docs/deploy.md)
#   tools/install-deps.sh --bridge  build, package and run earshot-bridge (and the node, built from
#                                   the same tree: -DBUILD_TESTING=OFF)
#   tools/install-deps.sh --arm64   cross-build both programs and their tests for arm64 and run them
#                                   under qemu-user (cmake/toolchain-aarch64-linux-gnu.cmake,
#                                   docs/deploy.md); the full set includes it (tools/test.sh's arm64 suite)
# Neither --node nor --bridge brings the tests' compilers, sanitizer runtimes, valgrind, chromium
# or npm packages.
# Idempotent: skips apt and npm entirely when everything is already installed.
set -euo pipefail

# Building, and the programs' own libraries. The node's set builds everything but the bridge.
NODE_PACKAGES=(
  # toolchain, and the Debian packages (cpack's dpkg-shlibdeps)
  build-essential cmake ninja-build pkg-config dpkg-dev
  lld  # links earshot-node with its code order (device/CMakeLists.txt): 1 MB less resident
  # audio I/O, codec, network
  libasound2-dev alsa-utils libopus-dev libopusenc-dev libopusfile-dev libogg-dev
  libwebsockets-dev libssl-dev libsndfile1-dev
  # dsp
  libspeexdsp-dev libwebrtc-audio-processing-dev  # resampler (its static archive), APM
  libkissfft-dev    # the VAD's FFT (dsp/real_fft.h)
  # config, command line, messages
  nlohmann-json3-dev libtomlplusplus-dev libcli11-dev
)
BRIDGE_PACKAGES=(
  "${NODE_PACKAGES[@]}"
  # host engines and infrastructure; openssl makes the certificate (docs/deploy.md)
  libpocketsphinx-dev libsphinxbase-dev pocketsphinx-en-us flite1-dev libespeak-ng-dev espeak-ng-data
  libcurl4-openssl-dev libsqlite3-dev sqlite3 openssl
  libsystemd-dev       # sd_notify: ready and watchdog under systemd
  libavahi-client-dev  # zeroconf: the bridge advertises its Wyoming services (_wyoming._tcp)
)
TEST_PACKAGES=(
  # compilers and tools of the sanitizer, fuzz and style checks
  clang-14 clang libclang-rt-14-dev clang-format valgrind
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev opus-tools sox pocketsphinx curl python3
  libfftw3-dev      # the reference dsp::RealFft is tested against
  lintian           # the Debian packages, checked
  systemd           # systemd-analyze: the units are verified and their hardening scored
  chromium  # the status page, in a real (headless) browser
  python3-prometheus-client  # metrics pages parsed by Prometheus' own text parser
  dbus avahi-daemon avahi-utils  # the Wyoming zeroconf test: a private bus, a loopback-only daemon
  nodejs    # npm steps below: the OpenAI Realtime door's client, the browser client's test driver
)
# arm64 (cross build on this amd64 machine): the cross compilers, qemu-user to run the result, and
# every library of NODE_PACKAGES and BRIDGE_PACKAGES (and the tests' GoogleTest) for arm64, from
# Debian's multiarch archive. Header-only and data packages (nlohmann-json, toml++, CLI11, the
# speech models) serve both architectures. libwebsockets-dev is not co-installable for two
# architectures (lws_config.h differs in one path string): its arm64 libraries are unpacked below.
ARM64_PACKAGES=(
  crossbuild-essential-arm64 qemu-user
  libasound2-dev:arm64 libopus-dev:arm64 libopusenc-dev:arm64 libopusfile-dev:arm64 libogg-dev:arm64
  libwebsockets17:arm64 libssl-dev:arm64 libsndfile1-dev:arm64 libfftw3-dev:arm64
  libspeexdsp-dev:arm64 libkissfft-dev:arm64 libwebrtc-audio-processing-dev:arm64
  libpocketsphinx-dev:arm64 libsphinxbase-dev:arm64 flite1-dev:arm64 libespeak-ng-dev:arm64
  libcurl4-openssl-dev:arm64 libsqlite3-dev:arm64 libsystemd-dev:arm64 libavahi-client-dev:arm64
  libtomlplusplus-dev:arm64 libgtest-dev:arm64 libgmock-dev:arm64
)
# Where the arm64 libwebsockets-dev libraries go (cmake/toolchain-aarch64-linux-gnu.cmake reads it).
ARM64_LWS_ROOT=/opt/earshot-cross/arm64-libwebsockets-dev

with_arm64=0
case "${1:-}" in
  "") PACKAGES=("${BRIDGE_PACKAGES[@]}" "${TEST_PACKAGES[@]}" "${ARM64_PACKAGES[@]}"); with_npm=1; with_arm64=1 ;;
  --node) PACKAGES=("${NODE_PACKAGES[@]}"); with_npm=0 ;;
  --bridge) PACKAGES=("${BRIDGE_PACKAGES[@]}"); with_npm=0 ;;
  --arm64) PACKAGES=("${BRIDGE_PACKAGES[@]}" "${ARM64_PACKAGES[@]}"); with_npm=0; with_arm64=1 ;;
  *) echo "usage: $0 [--node | --bridge | --arm64]" >&2; exit 2 ;;
esac

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
apt_install() {
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "$@"
}

if [ "$with_arm64" = 1 ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
  $SUDO dpkg --add-architecture arm64
fi
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
else
  echo "install-deps: installing ${missing[*]}"
  apt_install "${missing[@]}"
fi

# libwebsockets-dev for arm64, unpacked (not installed: see ARM64_PACKAGES) at the version of the
# installed libwebsockets17:arm64: its static archive, the shared library's link name and its
# pkg-config file with the paths made to point here.
if [ "$with_arm64" = 1 ]; then
  lws_version=$(dpkg-query -W -f='${Version}' libwebsockets17:arm64)
  if [ "$(cat "$ARM64_LWS_ROOT/version" 2>/dev/null)" != "$lws_version" ]; then
    scratch=$(mktemp -d)
    chmod 755 "$scratch"  # apt downloads as _apt
    (cd "$scratch" && apt-get download -qq "libwebsockets-dev:arm64=$lws_version")
    dpkg-deb -x "$scratch"/libwebsockets-dev_*_arm64.deb "$scratch/root"
    $SUDO rm -rf "$ARM64_LWS_ROOT"
    $SUDO mkdir -p "$ARM64_LWS_ROOT/lib" "$ARM64_LWS_ROOT/pkgconfig"
    $SUDO cp "$scratch/root/usr/lib/aarch64-linux-gnu/libwebsockets.a" "$ARM64_LWS_ROOT/lib/"
    $SUDO ln -s /usr/lib/aarch64-linux-gnu/libwebsockets.so.17 "$ARM64_LWS_ROOT/lib/libwebsockets.so"
    sed -e "s|^libdir=.*|libdir=$ARM64_LWS_ROOT/lib|" \
      "$scratch/root/usr/lib/aarch64-linux-gnu/pkgconfig/libwebsockets.pc" |
      $SUDO tee "$ARM64_LWS_ROOT/pkgconfig/libwebsockets.pc" >/dev/null
    echo "$lws_version" | $SUDO tee "$ARM64_LWS_ROOT/version" >/dev/null
    rm -rf "$scratch"
    echo "install-deps: libwebsockets-dev:arm64 $lws_version unpacked in $ARM64_LWS_ROOT"
  fi
fi

# npm packages, each folder pinned by its package-lock.json; `npm ci` runs again only when the lock
# changes. Debian's nodejs comes without npm (NodeSource's includes it); both need Node.js 20 or
# later.
#   tests/realtime: the openai client (and ws) that the OpenAI Realtime door's end-to-end test drives
#   tests/browser:  playwright-core, which drives Debian's chromium for the browser client's tests
#                   (it downloads no browser)
[ "$with_npm" = 1 ] || exit 0
for folder in realtime browser; do
  dir="$ROOT/tests/$folder"
  stamp="$dir/node_modules/.earshot-package-lock.sha256"
  want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    command -v npm >/dev/null || apt_install npm
    (cd "$dir" && npm ci --no-audit --no-fund --silent)
    echo "$want" >"$stamp"
    echo "install-deps: npm packages of tests/$folder installed ($(node --version))"
  fi
done
