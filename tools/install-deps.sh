#!/usr/bin/env bash
# Installs every Debian 12 (bookworm) package Earshot needs to build, test, benchmark and run.
# This is the one place dependencies are pinned: add a package here, nowhere else.
# Idempotent: skips apt entirely when everything is already installed.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config clang-14 clang libclang-rt-14-dev clang-format
  valgrind
  # audio I/O, codec, network
  libasound2-dev alsa-utils libopus-dev libopusenc-dev libopusfile-dev libogg-dev
  libwebsockets-dev libssl-dev libsndfile1-dev libfftw3-dev
  # dsp
  libsoxr-dev libspeexdsp-dev libwebrtc-audio-processing-dev
  # host engines and infrastructure
  libpocketsphinx-dev libsphinxbase-dev pocketsphinx-en-us flite1-dev libespeak-ng-dev espeak-ng-data
  libcurl4-openssl-dev nlohmann-json3-dev libtomlplusplus-dev libcli11-dev libsqlite3-dev sqlite3
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev opus-tools sox pocketsphinx openssl curl python3
  chromium  # the status page, in a real (headless) browser
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
