#!/usr/bin/env bash
# The main job on the embedded defaults, on a fresh Debian 12 machine: installs what it needs,
# builds, starts earshot-bridge with its embedded engines (pocketsphinx, echo — or the LLM at
# $EARSHOT_LLM_URL if set — and flite), and runs an earshot-node fed with real recordings in real
# time (a person speaking to the room: JFK, then two LibriVox readings). The bridge prints each
# turn's transcript, reply and stage timings; the node plays the replies into a WAV file.
#   out/demo/played.wav   what the node played back
#   out/demo/earshot.db   the bridge's store (turns with timings)
#   out/demo/*.log        both programs' logs
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
bash tools/install-deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/release --target earshot-node earshot-bridge
OUT=$ROOT/out/demo
rm -rf "$OUT" && mkdir -p "$OUT"
port=$((20000 + RANDOM % 20000))
token=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
{
  printf '[server]\nlisten = "127.0.0.1"\nport = %d\n[nodes]\ndemo = "%s"\n' "$port" "$token"
  printf '[store]\npath = "%s/earshot.db"\n' "$OUT"
  if [ -n "${EARSHOT_LLM_URL:-}" ]; then
    printf '[llm]\nengine = "openai"\nbase_url = "%s"\nmodel = "%s"\n' "$EARSHOT_LLM_URL" \
      "${EARSHOT_LLM_MODEL:-default}"
  fi
} >"$OUT/bridge.toml"
# The person: three utterances with pauses for the answers.
sox -q tests/data/whisper.cpp/jfk.wav -p pad 0 10 | sox -q - \
  tests/data/pocketsphinx/librivox/sense_and_sensibility_01_austen_64kb-0880.wav -p pad 0 5 | \
  sox -q - tests/data/pocketsphinx/librivox/sense_and_sensibility_01_austen_64kb-0930.wav \
  "$OUT/speech.wav" pad 0 6

build/release/host/earshot-bridge --config "$OUT/bridge.toml" --print-turns 2>"$OUT/bridge.log" &
bridge=$!
trap 'kill $bridge 2>/dev/null || true' EXIT
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
build/release/device/earshot-node --url "ws://127.0.0.1:$port/" --token "$token" --node-id demo \
  --room demo --log-plain --source file --file "$OUT/speech.wav" --sink wav \
  --playback-file "$OUT/played.wav" --playback-pace --drain-timeout-ms 30000 2>"$OUT/node.log"
kill -TERM $bridge && wait $bridge || true
trap - EXIT
echo
echo "node: $(grep -o 'stopped:.*' "$OUT/node.log")"
echo "played back: $(soxi -D "$OUT/played.wav") s of reply audio in $OUT/played.wav"
