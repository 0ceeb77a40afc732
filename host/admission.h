// Admission: who may open a conversation, and on what terms — kept apart from the transport
// (server.cpp moves bytes) and from the doors (which speak wire formats).
//
//   check_hello_terms(): the protocol version and audio an earshot.v1 hello offers;
//   check_xiaozhi_terms(): who a xiaozhi box is and which binary protocol it speaks (its headers);
//   Authenticator: whether a bearer token admits a client — a node's own token for that node,
//     the shared token for any, a live browser token for its browser-NAME (the store), or
//     anyone when allow_anonymous; admits_any() for doors whose clients name no node (Realtime).
//
// Thread-safety: the server's event loop (a browser token is one indexed SQLite read, per hello).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "host/server.h"
#include "protocol/messages.h"

namespace earshot::host {

class Store;

struct Refusal {
  std::string code;     // the error's code on the wire
  std::string message;  // for people
  uint16_t close_code = 0;
};

std::optional<Refusal> check_hello_terms(const protocol::Hello& hello);

// The token of an "Authorization: Bearer <token>" header, or empty.
std::string bearer_token(const std::string& authorization);

class Authenticator {
 public:
  Authenticator(const ServerConfig& config, Store* store) : config_(config), store_(store) {}
  // May a client with `token` speak as node `node_id`?
  bool admits_node(const std::string& token, const std::string& node_id) const;
  // May a client with `token` connect at all? Says as whom (for the log), or nullopt.
  std::optional<std::string> admits_any(const std::string& token) const;

 private:
  const ServerConfig& config_;
  Store* store_;
};

// A xiaozhi box's WebSocket upgrade (docs/xiaozhi.md): its Device-Id header names it (node
// "xiaozhi-<mac>"), its Protocol-Version header is a binary protocol the bridge speaks (1-3; none
// means 1), and its bearer token admits that node. The refusal's code is bad_device,
// unsupported_version or bad_token.
struct XiaozhiTerms {
  std::string node_id;
  int version = 1;
};
std::variant<XiaozhiTerms, Refusal> check_xiaozhi_terms(const std::string& device_id,
                                                        const std::string& protocol_version,
                                                        const std::string& token,
                                                        const Authenticator& auth);

}  // namespace earshot::host
