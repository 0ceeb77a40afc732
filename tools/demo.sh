#!/usr/bin/env bash
# The main job on the embedded defaults, on a fresh Debian 12 machine: installs what it needs,
# builds, then runs earshot-node on real speech (tests/data/whisper.cpp/jfk.wav, played in real
# time as if someone spoke to the node) against the stand-in host over a loopback WebSocket.
# The host answers each utterance with a spoken reply, which the node plays into a WAV file.
# Everything lands in out/demo/:
#   sent.opus      what the node sent, as an Ogg Opus file (--record)
#   host.wav       what the host received and decoded
#   reply.wav      what the node played back
#   node.log       the node's log (segments, latency, peak memory)
# (Until the bridge exists — issue 3 — the stand-in host plays its part.)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
bash tools/install-deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/release --target earshot-node earshot-standin-host
OUT=$ROOT/out/demo
rm -rf "$OUT" && mkdir -p "$OUT"
port=$((20000 + RANDOM % 20000))
build/release/tools/earshot-standin-host --port "$port" --token demo --state "$OUT/host.state" \
  --frames-log "$OUT/frames.jsonl" --out-wav "$OUT/host.wav" \
  --reply-wav tests/data/cmu-arctic/cmu_arctic_us_aew_a0001.wav >"$OUT/host.log" 2>&1 &
host=$!
trap 'kill $host 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q "listening on" "$OUT/host.log" && break; sleep 0.1; done
echo "earshot-node: streaming jfk.wav in real time to ws://127.0.0.1:$port/ ..."
build/release/device/earshot-node --url "ws://127.0.0.1:$port/" --token demo --node-id demo \
  --room demo --log-plain --source file --file tests/data/whisper.cpp/jfk.wav \
  --sink wav --playback-file "$OUT/reply.wav" --playback-pace --record "$OUT/sent.opus" \
  --drain-timeout-ms 15000 2>&1 | tee "$OUT/node.log"
echo
echo "speech segments sent : $(grep -c '"type":"speech_start"' "$OUT/host.log" || true)"
echo "frames the host got  : $(wc -l <"$OUT/frames.jsonl")"
echo "results in           : $OUT (sent.opus, host.wav, reply.wav, node.log)"
