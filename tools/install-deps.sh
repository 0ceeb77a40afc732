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
# Neither --node nor --bridge brings the tests' compilers, sanitizer runtimes, valgrind, chromium
# or npm packages.
# Idempotent: skips apt and npm entirely when everything is already installed.
set -euo pipefail

# Building, and the programs' own libraries. The node's set builds everything but the bridge.
NODE_PACKAGES=(
  # toolchain, and the Debian packages (cpack's dpkg-shlibdeps)
  build-essential cmake ninja-build pkg-config dpkg-dev
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

case "${1:-}" in
  "") PACKAGES=("${BRIDGE_PACKAGES[@]}" "${TEST_PACKAGES[@]}"); with_npm=1 ;;
  --node) PACKAGES=("${NODE_PACKAGES[@]}"); with_npm=0 ;;
  --bridge) PACKAGES=("${BRIDGE_PACKAGES[@]}"); with_npm=0 ;;
  *) echo "usage: $0 [--node | --bridge]" >&2; exit 2 ;;
esac

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
apt_install() {
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "$@"
}

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
