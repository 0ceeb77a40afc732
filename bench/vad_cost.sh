#!/usr/bin/env bash
# Instructions per second of audio for our VAD and the WebRTC VAD at each likelihood, counted by
# callgrind over the clean labelled set (vad_bench --cost). The cost of building the set is
# measured alone ("none") and subtracted.
#   bash bench/vad_cost.sh [build/release]
set -euo pipefail
BUILD=${1:-build/release}
BIN=$BUILD/bench/vad_bench
OUT=$(mktemp -d)
instructions() {
  valgrind --tool=callgrind --callgrind-out-file="$OUT/$1.out" "$BIN" --cost "$1" >"$OUT/$1.txt" 2>"$OUT/$1.err"
  grep -E '^(summary|totals):' "$OUT/$1.out" | head -n 1 | awk '{print $2}'
}
base=$(instructions none)
seconds=$("$BIN" --cost none | sed -E 's/.*: ([0-9.]+) s of audio.*/\1/')
printf '| detector | instructions per second of audio |\n|---|---|\n'
for d in ours webrtc0 webrtc1 webrtc2 webrtc3; do
  total=$(instructions "$d")
  awk -v t="$total" -v b="$base" -v s="$seconds" -v d="$d" \
    'BEGIN { printf "| %s | %.2f M |\n", d, (t - b) / s / 1e6 }'
done
rm -rf "$OUT"
