#!/usr/bin/env bash
# Installs every Debian 12 (bookworm) package Earshot needs to build, test, benchmark and run.
# This is the one place dependencies are pinned: add a package here, nowhere else (npm packages:
# tests/realtime/package.json and its lock file, installed from here).
# Idempotent: skips apt and npm entirely when everything is already installed.
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
  dpkg-dev lintian  # the Debian packages: cpack's dpkg-shlibdeps, and lintian on the .debs
  systemd           # systemd-analyze: the units are verified and their hardening scored
  chromium  # the status page, in a real (headless) browser
  nodejs    # npm steps below: the OpenAI Realtime door's client, the browser client's test driver
)

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
