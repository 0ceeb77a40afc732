// PairingDesk: how a node without a token gets one (docs/deploy.md, "Pairing a new node").
//
// The node connects (earshot.v1) and sends pair_request {node_id, code} instead of hello; the code
// is what the node shows in its log. The operator opens a pairing window on the bridge
// (`earshot-bridge pair`, which calls the running bridge's /api/pairing/*) and confirms the code
// the node shows. Then the desk makes the node's token ("NODE_ID." + 32 random bytes in hex),
// stores its SHA-256 with the node id and the code (host/store), and the server sends it to the
// node (`paired`). From then on the node's hello is admitted like any other (host/admission.h:
// paired_node_admits).
//
// Refused, logged, and nothing stored: a request while no window is open, or after it closed
// (pending requests are refused when it closes); a code confirmed that no waiting node sent
// (three wrong codes close the window); a code used before (a replay); a node id already paired
// or in the config's [nodes]; a second request for the same node id or with the same code in one
// window; more than kMaxPending waiting requests.
//
// Thread-safety: none; the server's event loop owns it (requests, HTTP calls and the tick all run
// there). The store writes once per pairing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "host/admission.h"
#include "protocol/pairing.h"

namespace earshot::host {

class Store;

// True when `token` is the token issued to the paired node `node_id` (its hash is in the store).
bool paired_node_admits(Store* store, std::string_view token, std::string_view node_id);

class PairingDesk {
 public:
  static constexpr int kMaxWindowS = 600;
  static constexpr size_t kMaxPending = 8;
  static constexpr int kMaxWrongCodes = 3;

  // `configured_nodes`: node ids of the config's [nodes] (never paired: they have a token).
  PairingDesk(Store* store, std::vector<std::string> configured_nodes)
      : store_(store), configured_nodes_(std::move(configured_nodes)) {}

  // Opens (or extends) the window for `window_s` seconds (1-kMaxWindowS). Returns the seconds.
  int open(int window_s, int64_t now_ms);
  // Closes the window; the waiting requests are returned by expire().
  void close();
  bool is_open(int64_t now_ms) const { return now_ms < closes_at_ms_; }
  int seconds_left(int64_t now_ms) const;

  // A node asks on connection `conn` (any id the caller uses for its connections, not 0) from
  // `peer`. nullopt: waiting for the operator. Otherwise why it is refused (already logged).
  std::optional<Refusal> request(uint64_t conn, const protocol::PairRequest& request,
                                 const std::string& peer, int64_t now_ms);
  // The connection went away: its request is dropped.
  void withdraw(uint64_t conn);

  struct Confirmation {
    bool ok = false;
    int http_status = 200;  // for the operator's call: 200, 403 (refused), 409, 500 (store)
    std::string message;    // for the operator
    uint64_t conn = 0;      // ok: the connection to send `paired` to
    protocol::Paired paired;
  };
  // The operator confirms `code`. On success the token is stored and the request taken off the
  // desk.
  Confirmation confirm(const std::string& code, int64_t now_ms);

  // The connections whose requests must be refused now: the window closed (or was closed).
  std::vector<uint64_t> expire(int64_t now_ms);

  struct Waiting {
    std::string node_id, room, peer;
    int64_t since_ms = 0;
  };
  std::vector<Waiting> waiting() const;

 private:
  struct Pending {
    uint64_t conn = 0;
    protocol::PairRequest request;
    std::string peer;
    int64_t since_ms = 0;
  };
  Store* store_;
  std::vector<std::string> configured_nodes_;
  int64_t closes_at_ms_ = 0;
  int wrong_codes_ = 0;
  std::vector<Pending> pending_;
};

}  // namespace earshot::host
