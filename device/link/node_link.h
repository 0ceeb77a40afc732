// NodeLink: the node's connection to the bridge, on a libwebsockets thread of its own.
//
// Lifecycle: dial (ws:// or wss://, subprotocol earshot.v1, "Authorization: Bearer <token>") →
// send hello → wait for welcome (handshake_timeout_ms) → stream the SpeechBuffer in order, control
// messages first → on any loss, dial again after an exponential backoff with jitter (reset by the
// next welcome). Keepalive: a WebSocket ping after keepalive_s of silence; no answer within about
// twice that and the link is dropped and redialled, so a half-open TCP connection never hangs the
// node. Close codes 4001 (bad token), 4002 (version) and 4003 (audio parameters) are fatal:
// retrying cannot help, so on_fatal is called and the link stops.
//
// Thread-safety: send() and wake() from any thread; callbacks run on the link thread and must not
// block.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "device/link/speech_buffer.h"
#include "protocol/audio_frame.h"
#include "protocol/messages.h"

namespace earshot::device {

struct LinkConfig {
  std::string url;  // ws://host:port/path or wss://...
  std::string token;
  std::string ca_file;  // wss: pinned CA (PEM); empty = system store
  bool tls_insecure = false;
  // wss: accept only the certificate with this SHA-256 fingerprint (device/link/cert_pin.h); the CA
  // chain and host name are then not checked. Checked before the token is sent; a mismatch is
  // reported and redialled like any failed connection. Empty: no pin.
  std::string pinned_fingerprint;
  protocol::Hello hello;
  int backoff_initial_ms = 200;
  int backoff_max_ms = 30000;
  double backoff_jitter = 0.3;
  int keepalive_s = 10;
  int handshake_timeout_ms = 5000;
};

struct LinkCallbacks {
  std::function<void(const protocol::Welcome&)> on_welcome;
  std::function<void(const protocol::Message&)> on_message;
  std::function<void(const protocol::AudioFrameView&)> on_reply_frame;
  std::function<void(bool connected, const std::string& reason)> on_link_state;
  std::function<void(const std::string& fatal_error)> on_fatal;
  // Optional: a microphone frame was handed to the socket (latency measurement).
  std::function<void(uint64_t seq)> on_frame_sent;
  // Optional: the host sent something invalid; it was ignored and the link goes on. `what` says
  // what was wrong, e.g. "hello is not a host->node message". Called on the link thread.
  std::function<void(const std::string& what)> on_bad_input;
};

struct LinkStats {
  uint64_t connects = 0, disconnects = 0, frames_sent = 0, bytes_sent = 0, messages_dropped = 0,
           bad_messages = 0;
  uint16_t fatal_close_code = 0;  // the close code that stopped the link (4001, 4002, 4003), or 0
};

class NodeLink {
 public:
  NodeLink(LinkConfig config, SpeechBuffer& buffer, LinkCallbacks callbacks);
  ~NodeLink();
  NodeLink(const NodeLink&) = delete;
  NodeLink& operator=(const NodeLink&) = delete;

  bool start(std::string* error);
  void stop();
  void send(const protocol::Message& message);
  void wake();
  bool connected() const;
  LinkStats stats() const;

 public:
  struct Impl;  // public so the link's timers can point back at it

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace earshot::device
