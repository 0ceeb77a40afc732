#!/usr/bin/env bash
# Writes device/earshot-node.order: the functions earshot-node runs, which the linker lays out
# together in its code (lld --symbol-ordering-file; device/CMakeLists.txt).
#
# Why: a room node's resident memory is mostly code pages, and the kernel maps a file's pages in
# 64 kB windows around each fault, so code touched once anywhere in a window makes all of it
# resident. Packed together, the code a node runs fills few windows (docs/benchmarks.md, "Memory").
#
# How: the node streams 30 s of speech to the stand-in host under callgrind, once over ws:// and
# once over wss://; every function callgrind saw run that the node binary defines is listed, the
# ws:// run's first, then what TLS adds. Run it after a change that renames or adds much of the
# node's code (the test NodeCodeOrder.TheFunctionsAStreamingNodeRunsSitTogether says when the list
# has gone stale):
#   bash tools/node_code_order.sh [build/release]
set -euo pipefail
BUILD=$(realpath "${1:-build/release}")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NODE=$BUILD/device/earshot-node
HOST=$BUILD/tools/earshot-standin-host
OUT=$ROOT/device/earshot-node.order
W=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$W"' EXIT
D=$ROOT/tests/data

sox $D/pocketsphinx/librivox/*.wav $D/cmu-arctic/*.wav -r 48000 -c 2 -t raw "$W/speech.raw" trim 0 30
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$W/key.pem" -out "$W/cert.pem" -days 2 \
  -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
nm --defined-only "$NODE" | awk '{print $3}' | sort -u >"$W/defined"

for scheme in ws wss; do
  port=$((20000 + RANDOM % 20000))
  host_tls=(); node_tls=()
  if [ "$scheme" = wss ]; then
    host_tls=(--tls-cert "$W/cert.pem" --tls-key "$W/key.pem"); node_tls=(--ca-file "$W/cert.pem")
  fi
  "$HOST" --port "$port" --token order --state "$W/$scheme.state" --ack-every 25 "${host_tls[@]}" \
    >"$W/$scheme.host" 2>&1 &
  host_pid=$!
  for _ in $(seq 100); do grep -q "listening on" "$W/$scheme.host" && break; sleep 0.1; done
  valgrind --tool=callgrind --demangle=no --callgrind-out-file="$W/$scheme.cg" "$NODE" \
    --url "$scheme://127.0.0.1:$port/" --token order --node-id order --log-plain --source stdin \
    --stdin-rate 48000 --stdin-channels 2 --realtime=false --sink none --drain-timeout-ms 60000 \
    "${node_tls[@]}" <"$W/speech.raw" >/dev/null 2>"$W/$scheme.node"
  kill "$host_pid"; wait "$host_pid" 2>/dev/null || true
  if ! grep -q ' 0 dropped' "$W/$scheme.node"; then
    echo "the $scheme:// run failed:"; tail "$W/$scheme.node"; exit 1
  fi
  # Every function callgrind names (fn= for its own cost, cfn= as a callee) that the node defines.
  grep -oE '^c?fn=\([0-9]+\) .*' "$W/$scheme.cg" | sed -E 's/^c?fn=\([0-9]+\) //' | sort -u |
    comm -12 - "$W/defined" >"$W/$scheme.ran"
done

{
  echo "# The functions earshot-node runs, for lld --symbol-ordering-file (device/CMakeLists.txt)."
  echo "# Written by tools/node_code_order.sh at $(git -C "$ROOT" rev-parse --short HEAD); do not edit."
  echo "# ws:// streaming"
  cat "$W/ws.ran"
  echo "# what wss:// adds"
  comm -13 "$W/ws.ran" "$W/wss.ran"
} >"$OUT"
echo "$(grep -vc '^#' "$OUT") functions -> $OUT"
