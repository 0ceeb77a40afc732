// PairingClient: one attempt by a node without a token to get one from the bridge
// (docs/protocol.md, "Pairing"). It connects (earshot.v1, no Authorization header), sends
// pair_request {node_id, code}, and waits — while the operator confirms the code on the bridge —
// for `paired` (the token) or an error and a close. On wss:// it records the certificate the bridge
// presented (trust on first use: without a ca_file any certificate is accepted here, and its
// fingerprint is what the node pins from then on).
//
// Blocking, on its own libwebsockets context, before the node's pipeline starts: pairing never
// runs beside the audio path.
#pragma once

#include <atomic>
#include <string>

namespace earshot::device {

struct PairingAttempt {
  std::string url;  // ws:// or wss://
  std::string node_id;
  std::string room;
  std::string code;     // what the node shows its operator
  std::string ca_file;  // wss: verify the bridge against this CA instead of trusting on first use
  int connect_timeout_ms = 10000;
  int wait_s = 660;  // longest wait for the operator once the bridge holds the request
};

struct PairingOutcome {
  enum Kind { kPaired, kRefused, kFailed } kind = kFailed;
  std::string token;        // kPaired
  std::string fingerprint;  // wss: the bridge's certificate (SHA-256), to pin
  std::string code;         // kRefused: the bridge's error code, e.g. "pairing_closed"
  std::string message;      // for the log
  bool waited = false;      // the bridge said the request was waiting for the operator
};

// One attempt; returns when it is answered, fails, or `stop` becomes true. `on_waiting` (may be
// empty) is called when the bridge says the request waits for the operator.
PairingOutcome request_pairing(const PairingAttempt& attempt, const std::atomic<bool>& stop,
                               void (*on_waiting)(int window_s) = nullptr);

}  // namespace earshot::device
