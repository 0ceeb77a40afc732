// BridgeServer: one libwebsockets event loop for every connection, on its own thread.
//
// One port serves WebSocket (ws:// and, with a certificate, wss:// — both on the same port) with
// the earshot.v1 subprotocol, and plain HTTP: /healthz, /metrics (Prometheus text) and the web
// client page at /. The loop thread only moves bytes: it parses frames and messages, hands them to
// the session (whose own threads do the CPU and engine work), and writes what the session's
// Outbox releases. A 10 ms timer paces reply audio, checks handshake timeouts and end-of-turn
// deadlines. See docs/bridge.md for the thread model.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "host/services.h"

namespace earshot::host {

struct ServerConfig {
  std::string listen = "0.0.0.0";
  int port = 8765;
  std::string tls_cert;  // PEM; with tls_key: wss:// (and ws:// still) on the port
  std::string tls_key;
  std::map<std::string, std::string> node_tokens;  // node_id -> bearer token
  std::string shared_token;                        // accepted for any node_id
  bool allow_anonymous = false;                    // no token needed (local demos only)
  int handshake_timeout_ms = 5000;
  int max_sessions = 512;
  int reply_lead_ms = 120;  // reply audio is sent this far ahead of real time
  // A client may send audio faster than real time by this much in all (a node redelivering its
  // buffer after a reconnect: keep it above the nodes' buffer_seconds); past it, it is told
  // `too_fast` and closed with 4029.
  int audio_burst_s = 120;
  // A client that reads nothing of what is waiting for it for this long is closed (4012).
  int stalled_client_ms = 10000;
  std::string web_root;  // serve the web client from here (empty: the built-in page)
  // /api/status (live sessions and recent turns, which hold what people said) is served to this
  // machine only, unless the request carries this token (Authorization: Bearer, or ?token=).
  std::string status_token;
  // Rooms of clients whose protocol names none (xiaozhi boxes): node_id -> room ([rooms]).
  std::map<std::string, std::string> rooms;
  // xiaozhi-esp32 boxes ([xiaozhi], docs/xiaozhi.md). A box is a node: its node_id is
  // "xiaozhi-" + its MAC's 12 hex digits, and its token is that node's ([nodes]).
  struct Xiaozhi {
    bool enabled = true;
    // The WebSocket URL the OTA check-in hands out; "" = ws:// (wss:// when the check-in came over
    // TLS) + the check-in's Host + /xiaozhi/v1/.
    std::string websocket_url;
    int output_sample_rate = 24000;  // reply audio: 24000 or 16000 Hz, 60 ms Opus frames
  } xiaozhi;
};

class BridgeServer {
 public:
  BridgeServer(ServerConfig config, Services& services);
  ~BridgeServer();
  BridgeServer(const BridgeServer&) = delete;
  BridgeServer& operator=(const BridgeServer&) = delete;

  // Binds and starts the loop thread. False with a message if the port or certificate fails.
  bool start(std::string* error);
  int port() const;
  size_t session_count() const;

  // Graceful drain (SIGTERM): refuse new sessions, let replies in flight finish (up to
  // `timeout`), then close every session with 1001 "going away" and stop the loop.
  void drain_and_stop(std::chrono::milliseconds timeout);
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace earshot::host
