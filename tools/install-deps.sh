#!/usr/bin/env bash
# Installs the Debian 12 (bookworm) packages Earshot needs. This is the one place dependencies are
# pinned: add a package here, nowhere else (npm packages: tests/realtime/package.json and its lock
# file, installed from here; bench/silero's, for one benchmark and no test, are installed by
# bench/vad_silero.sh on first use). Each package is NAME=VERSION, the version it was last tested at
# (nodejs is not pinned: Debian's and NodeSource's builds differ, and the npm steps need only
# Node.js 20 or later). A missing package is installed at its pinned version; when Debian's
# archive no longer has that version (a point release or a security update replaced it), the
# script says so and installs the archive's, rather than fail. A package already installed at
# another version is reported, not changed.
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
  build-essential=12.9 cmake=3.25.1-1 ninja-build=1.11.1-2~deb12u1 pkg-config=1.8.1-1
  dpkg-dev=1.21.23
  # links earshot-node with its code order (device/CMakeLists.txt): 1 MB less resident
  lld=1:14.0-55.7~deb12u1
  # audio I/O, codec, network
  libasound2-dev=1.2.8-1+b1 alsa-utils=1.2.8-1 libopus-dev=1.3.1-3 libopusenc-dev=0.2.1-2
  libopusfile-dev=0.12-4 libogg-dev=1.3.5-3
  libwebsockets-dev=4.1.6-3 libssl-dev=3.0.22-1~deb12u2 libsndfile1-dev=1.2.0-1+deb12u1
  # dsp: the resampler (its static archive), APM
  libspeexdsp-dev=1.2.1-1 libwebrtc-audio-processing-dev=0.3-1+b1
  # the VAD's FFT (dsp/real_fft.h)
  libkissfft-dev=131.1.0-4.1~deb12u1
  # config, command line, messages
  nlohmann-json3-dev=3.11.2-2 libtomlplusplus-dev=3.3.0+ds-1 libcli11-dev=2.1.2+ds-1
)
BRIDGE_PACKAGES=(
  "${NODE_PACKAGES[@]}"
  # host engines and infrastructure; openssl makes the certificate (docs/deploy.md)
  libpocketsphinx-dev=0.8+5prealpha+1-15 libsphinxbase-dev=0.8+5prealpha+1-16
  pocketsphinx-en-us=0.8+5prealpha+1-15 flite1-dev=2.2-5 libespeak-ng-dev=1.51+dfsg-10+deb12u2
  espeak-ng-data=1.51+dfsg-10+deb12u2
  libcurl4-openssl-dev=7.88.1-10+deb12u15 libsqlite3-dev=3.40.1-2+deb12u2 sqlite3=3.40.1-2+deb12u2
  openssl=3.0.22-1~deb12u2
  # sd_notify: ready and watchdog under systemd
  libsystemd-dev=252.39-1~deb12u2
  # zeroconf: the bridge advertises its Wyoming services (_wyoming._tcp)
  libavahi-client-dev=0.8-10+deb12u1
)
TEST_PACKAGES=(
  # compilers and tools of the sanitizer, fuzz and style checks
  clang-14=1:14.0.6-12 clang=1:14.0-55.7~deb12u1 libclang-rt-14-dev=1:14.0.6-12
  clang-format=1:14.0-55.7~deb12u1 valgrind=1:3.19.0-1
  # tests and benchmarks
  libgtest-dev=1.12.1-0.2 libgmock-dev=1.12.1-0.2 libbenchmark-dev=1.7.1-1 opus-tools=0.2-1+b1
  # the fault run prints the bridge's thread stacks when a node does not finish
  gdb=13.1-3
  sox=14.4.2+git20190427-3.5 pocketsphinx=0.8+5prealpha+1-15 curl=7.88.1-10+deb12u15
  python3=3.11.2-1+b1
  # bench/vad_data.sh: the fourth held-out split's game lines are MP3s
  libsox-fmt-mp3=14.4.2+git20190427-3.5
  # the reference dsp::RealFft is tested against
  libfftw3-dev=3.3.10-1
  # the Debian packages, checked
  lintian=2.116.3+deb12u1
  # systemd-analyze: the units are verified and their hardening scored
  systemd=252.39-1~deb12u2
  # the status page, in a real (headless) browser
  chromium=156.0.8078.114-1~deb12u1
  # metrics pages parsed by Prometheus' own text parser
  python3-prometheus-client=0.16.0-0.1
  # the Wyoming zeroconf test: a private bus, a loopback-only daemon
  dbus=1.14.10-1~deb12u1 avahi-daemon=0.8-10+deb12u1 avahi-utils=0.8-10+deb12u1
  # npm steps below: the OpenAI Realtime door's client, the browser client's test driver
  nodejs
)
# arm64 (cross build on this amd64 machine): the cross compilers, qemu-user to run the result, and
# every library of NODE_PACKAGES and BRIDGE_PACKAGES (and the tests' GoogleTest) for arm64, from
# Debian's multiarch archive. Header-only and data packages (nlohmann-json, toml++, CLI11, the
# speech models) serve both architectures. libwebsockets-dev is not co-installable for two
# architectures (lws_config.h differs in one path string): its arm64 libraries are unpacked below.
ARM64_PACKAGES=(
  crossbuild-essential-arm64=12.9 qemu-user=1:7.2+dfsg-7+deb12u18+b3
  libasound2-dev:arm64=1.2.8-1+b1 libopus-dev:arm64=1.3.1-3 libopusenc-dev:arm64=0.2.1-2
  libopusfile-dev:arm64=0.12-4 libogg-dev:arm64=1.3.5-3
  libwebsockets17:arm64=4.1.6-3 libssl-dev:arm64=3.0.22-1~deb12u2
  # libwebsockets.pc says Requires: libcap (installed for amd64 by libwebsockets-dev's Depends;
  # for arm64 the -dev package is only unpacked, so nothing pulls it in)
  libcap-dev:arm64=1:2.66-4+deb12u3+b1
  libsndfile1-dev:arm64=1.2.0-1+deb12u1 libfftw3-dev:arm64=3.3.10-1
  libspeexdsp-dev:arm64=1.2.1-1 libkissfft-dev:arm64=131.1.0-4.1~deb12u1
  libwebrtc-audio-processing-dev:arm64=0.3-1+b1
  libpocketsphinx-dev:arm64=0.8+5prealpha+1-15 libsphinxbase-dev:arm64=0.8+5prealpha+1-16
  flite1-dev:arm64=2.2-5 libespeak-ng-dev:arm64=1.51+dfsg-10+deb12u2
  libcurl4-openssl-dev:arm64=7.88.1-10+deb12u15 libsqlite3-dev:arm64=3.40.1-2+deb12u2
  libsystemd-dev:arm64=252.39-1~deb12u2 libavahi-client-dev:arm64=0.8-10+deb12u1
  libtomlplusplus-dev:arm64=3.3.0+ds-1 libgtest-dev:arm64=1.12.1-0.2 libgmock-dev:arm64=1.12.1-0.2
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
  $SUDO apt-get install -y -qq --no-install-recommends "$@"
}
# Each spec as pinned while Debian's archive still has that version; otherwise (a security or
# point release replaced it) the bare name, so that apt takes the current one, said out loud.
# One stale pin must not unpin the rest.
pinned_or_current() {
  local spec name pinned
  for spec in "$@"; do
    name=${spec%%=*}
    pinned=${spec#"$name"}
    pinned=${pinned#=}
    if [ -n "$pinned" ] && ! apt-cache madison "$name" |
      awk -F'|' '{ gsub(/ /, "", $2); print $2 }' | grep -qxF -- "$pinned"; then
      echo "install-deps: WARNING: Debian's archive no longer has $name $pinned; installing its" \
        "current one (update the pin in $0 once it passes the tests)" >&2
      echo "$name"
    else
      echo "$spec"
    fi
  done
}

if [ "$with_arm64" = 1 ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
  $SUDO dpkg --add-architecture arm64
fi
missing=()
drifted=()
for spec in "${PACKAGES[@]}"; do
  name=${spec%%=*}
  pinned=${spec#"$name"}
  pinned=${pinned#=}
  have=$(dpkg-query -W -f='${Status} ${Version}\n' "$name" 2>/dev/null | head -n 1 || true)
  case "$have" in
    "install ok installed "*) ;;
    *) missing+=("$spec"); continue ;;
  esac
  [ -z "$pinned" ] || [ "${have##* }" = "$pinned" ] || drifted+=("$name ${have##* } (pinned $pinned)")
done
if [ ${#drifted[@]} -gt 0 ]; then
  echo "install-deps: installed at another version than pinned, left as they are: ${drifted[*]}"
fi
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
else
  $SUDO apt-get update -qq
  mapfile -t specs < <(pinned_or_current "${missing[@]}")
  echo "install-deps: installing ${specs[*]}"
  apt_install "${specs[@]}"
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
# (bench/silero, Silero VAD for one benchmark, is not installed here: bench/vad_silero.sh does it.)
[ "$with_npm" = 1 ] || exit 0
for folder in realtime browser; do
  dir="$ROOT/tests/$folder"
  stamp="$dir/node_modules/.earshot-package-lock.sha256"
  want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    command -v npm >/dev/null || { $SUDO apt-get update -qq && apt_install npm; }
    (cd "$dir" && npm ci --no-audit --no-fund --silent)
    echo "$want" >"$stamp"
    echo "install-deps: npm packages of tests/$folder installed ($(node --version))"
  fi
done
