#!/usr/bin/env bash
# The arm64 node's cost, measured on this amd64 machine: the instructions the arm64 earshot-node
# executes per second of audio, counted under qemu-aarch64 by a TCG plugin (bench/qemu_insn_count.c),
# in the same run as bench/node_bench.sh's cost figure (48 kHz stereo speech from a file -> 16 kHz
# Opus over a loopback WebSocket to the stand-in host), next to libopus alone (bench/opus_alone,
# built for arm64 here) encoding the same speech. Also: how fast qemu runs the arm64 node.
#   bash bench/arm64_node_bench.sh [build/arm64]     (a cross build: docs/deploy.md, "arm64")
# Not callgrind: Debian's valgrind:arm64 (3.19) starts under qemu-aarch64 7.2 and counts, but every
# malloc of the program it runs returns NULL (valgrind's address-space manager and qemu-user's guest
# mmap disagree), so the node stops at once ("libgomp: Out of memory allocating 8 bytes"). On a
# program that does not allocate, the plugin's count and callgrind's agree to 0.02 %
# (docs/benchmarks.md).
set -euo pipefail
BUILD=$(realpath "${1:-build/arm64}")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
W=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$W"' EXIT
NODE=$BUILD/device/earshot-node
HOST=$BUILD/tools/earshot-standin-host
D=$ROOT/tests/data
QEMU=qemu-aarch64

cc -O2 -shared -fPIC -Wall -Wextra -Werror "$ROOT/bench/qemu_insn_count.c" -o "$W/insn.so"
count() {  # count OUT PROGRAM ARGS...: runs PROGRAM under qemu, its instruction count into OUT
  local out=$1; shift
  "$QEMU" -plugin "$W/insn.so,out=$out" "$@"
}

# libopus alone, for arm64: the bench folder is not part of the cross build (Google Benchmark).
aarch64-linux-gnu-g++ -std=c++17 -O2 -I"$ROOT" "$ROOT/bench/opus_alone.cpp" \
  "$BUILD/dsp/libearshot_dsp.a" -lopus -lsndfile -o "$W/opus_alone"

sox $D/pocketsphinx/librivox/*.wav $D/cmu-arctic/*.wav $D/whisper.cpp/jfk.wav -r 16000 -c 1 "$W/speech16.wav"
sox "$W/speech16.wav" -r 48000 -c 2 "$W/speech48.wav"
secs=$(soxi -D "$W/speech16.wav")

port=$((20000 + RANDOM % 20000))
start_host() {  # start_host TAG
  "$QEMU" "$HOST" --port "$port" --token bench --state "$W/$1.state" --frames-log "$W/$1.frames" \
    >"$W/$1.host.out" 2>"$W/$1.host.err" &
  HOST_PID=$!
  for _ in $(seq 300); do grep -q "listening on" "$W/$1.host.out" 2>/dev/null && return; sleep 0.1; done
  echo "stand-in host did not start"; exit 1
}
stop_host() { kill "$HOST_PID" 2>/dev/null; wait "$HOST_PID" 2>/dev/null || true; }
node_args=(--url "ws://127.0.0.1:$port/" --token bench --node-id bench --log-plain --source file
  --file "$W/speech48.wav" --realtime=false --sink none --drain-timeout-ms 600000)

echo "== arm64 cost (instructions under qemu-aarch64, $secs s of 48 kHz stereo speech)"
start_host cost
count "$W/node.insn" "$NODE" "${node_args[@]}" 2>"$W/node.cost.err" >/dev/null
stop_host
count "$W/opus.insn" "$W/opus_alone" "$W/speech16.wav" >/dev/null 2>"$W/opus.err"
node_ir=$(cat "$W/node.insn")
opus_ir=$(cat "$W/opus.insn")
sent=$(grep -o '[0-9]* frames sent' "$W/node.cost.err" | awk '{print $1}')
awk -v n="$node_ir" -v o="$opus_ir" -v s="$secs" -v sent="$sent" 'BEGIN {
  printf "| what (arm64) | instructions | per second of audio |\n|---|---|---|\n";
  printf "| earshot-node, whole process | %.0f | %.1f M |\n", n, n / s / 1e6;
  printf "| libopus alone (opus_alone) | %.0f | %.1f M |\n", o, o / s / 1e6;
  printf "ratio node / opus alone: %.2f (node sent %d of %d frames)\n", n / o, sent, s * 50 }'

echo "== arm64 node under qemu-aarch64, not paced: wall time for $secs s of audio"
start_host speed
start=$(date +%s.%N)
"$QEMU" "$NODE" "${node_args[@]}" 2>"$W/speed.err" >/dev/null
end=$(date +%s.%N)
stop_host
awk -v a="$start" -v b="$end" -v s="$secs" 'BEGIN {
  printf "%.1f s wall, %.3f s per second of audio (%s)\n", b - a, (b - a) / s,
    (b - a) < s ? "faster than real time" : "slower than real time" }'
grep -o '[0-9]* frames sent.*' "$W/speed.err" | tail -1
