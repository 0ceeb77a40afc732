#!/usr/bin/env bash
# The node's cost, memory and latency, as docs/benchmarks.md reports them:
#   1. cost: callgrind instructions per second of audio for earshot-node (48 kHz stereo file in ->
#      16 kHz Opus out over a loopback WebSocket to the stand-in host) next to libopus alone
#      encoding the same audio at 16 kHz with the same settings (bench/opus_alone);
#   2. memory: peak RSS (VmHWM, logged by the node at exit) streaming 10 minutes over ws:// and wss://;
#   3. latency: capture chunk -> socket write, p50/p99 over live frames, real-time paced input.
#   bash bench/node_bench.sh [build/release]
set -euo pipefail
BUILD=$(realpath "${1:-build/release}")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
W=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$W"' EXIT
NODE=$BUILD/device/earshot-node
HOST=$BUILD/tools/earshot-standin-host
D=$ROOT/tests/data

# Continuous read speech: the LibriVox, ARCTIC and JFK clips back to back (about 60 s).
sox $D/pocketsphinx/librivox/*.wav $D/cmu-arctic/*.wav $D/whisper.cpp/jfk.wav -r 16000 -c 1 "$W/speech16.wav"
sox "$W/speech16.wav" -r 48000 -c 2 "$W/speech48.wav"
secs=$(soxi -D "$W/speech16.wav")
# Ten minutes of it for the memory run.
sox "$W/speech48.wav" "$W/long48.wav" repeat 9
long_secs=$(soxi -D "$W/long48.wav")

port=$((20000 + RANDOM % 20000))
start_host() {  # start_host TAG [extra args]
  local tag=$1; shift
  "$HOST" --port "$port" --token bench --state "$W/$tag.state" --frames-log "$W/$tag.frames" "$@" \
    >"$W/$tag.host.out" 2>"$W/$tag.host.err" &
  HOST_PID=$!
  for _ in $(seq 100); do grep -q "listening on" "$W/$tag.host.out" 2>/dev/null && return; sleep 0.1; done
  echo "stand-in host did not start"; exit 1
}
stop_host() { kill "$HOST_PID" 2>/dev/null; wait "$HOST_PID" 2>/dev/null || true; }

echo "== cost (callgrind, $secs s of 48 kHz stereo speech)"
start_host cost
valgrind --tool=callgrind --callgrind-out-file="$W/node.cg" "$NODE" --url "ws://127.0.0.1:$port/" \
  --token bench --node-id bench --log-plain --source file --file "$W/speech48.wav" --realtime=false \
  --sink none --drain-timeout-ms 60000 2>"$W/node.cost.err" >/dev/null
stop_host
valgrind --tool=callgrind --callgrind-out-file="$W/opus.cg" "$BUILD/bench/opus_alone" \
  "$W/speech16.wav" >/dev/null 2>"$W/opus.err"
node_ir=$(grep -E '^(summary|totals):' "$W/node.cg" | head -1 | awk '{print $2}')
opus_ir=$(grep -E '^(summary|totals):' "$W/opus.cg" | head -1 | awk '{print $2}')
sent=$(grep -o '[0-9]* frames sent' "$W/node.cost.err" | awk '{print $1}')
awk -v n="$node_ir" -v o="$opus_ir" -v s="$secs" -v sent="$sent" 'BEGIN {
  printf "| what | instructions | per second of audio |\n|---|---|---|\n";
  printf "| earshot-node, whole process | %.0f | %.1f M |\n", n, n / s / 1e6;
  printf "| libopus alone (opus_alone) | %.0f | %.1f M |\n", o, o / s / 1e6;
  printf "ratio node / opus alone: %.2f (node sent %d of %d frames)\n", n / o, sent, s * 50 }'

for scheme in ws wss; do
  echo "== memory ($scheme://, $long_secs s)"
  extra=(); node_extra=()
  if [ "$scheme" = wss ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$W/key.pem" -out "$W/cert.pem" -days 2 \
      -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
    extra=(--tls-cert "$W/cert.pem" --tls-key "$W/key.pem")
    node_extra=(--ca-file "$W/cert.pem")
  fi
  # As a room node runs (raw PCM, as ALSA hands it over: libsndfile is never loaded) ...
  start_host "mem$scheme" --ack-every 25 "${extra[@]}"
  sox "$W/long48.wav" -t raw - | "$NODE" --url "$scheme://127.0.0.1:$port/" --token bench \
    --node-id bench --log-plain --source stdin --stdin-rate 48000 --stdin-channels 2 \
    --realtime=false --sink none --drain-timeout-ms 60000 "${node_extra[@]}" \
    2>"$W/mem$scheme.err" >/dev/null
  stop_host
  echo "raw PCM source: $(grep -o 'frames sent.*' "$W/mem$scheme.err" | tail -1)"
  # ... and reading the WAV file (libsndfile and its codec libraries loaded).
  start_host "memf$scheme" --ack-every 25 "${extra[@]}"
  "$NODE" --url "$scheme://127.0.0.1:$port/" --token bench --node-id bench --log-plain \
    --source file --file "$W/long48.wav" --realtime=false --sink none --drain-timeout-ms 60000 \
    "${node_extra[@]}" 2>"$W/memf$scheme.err" >/dev/null
  stop_host
  echo "WAV file source: $(grep -o 'frames sent.*' "$W/memf$scheme.err" | tail -1)"
done

echo "== latency (real-time paced, $secs s)"
start_host lat
"$NODE" --url "ws://127.0.0.1:$port/" --token bench --node-id bench --log-plain --source file \
  --file "$W/speech48.wav" --sink none --drain-timeout-ms 10000 2>"$W/lat.err" >/dev/null
stop_host
grep -o 'capture->socket latency.*' "$W/lat.err"
