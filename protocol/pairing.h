// Pairing on the earshot.v1 subprotocol (docs/protocol.md, "Pairing"): how a node that has no
// token gets one. Its own small set of messages, apart from the session's (messages.h), because a
// pairing connection never becomes a session: it carries one request and one answer, then closes.
//
//   node -> host  pair_request {versions, node_id, code, room?}   instead of hello, first message
//   host -> node  pair_pending {window_s}      the request waits for the operator to confirm it
//   host -> node  paired {node_id, token}      confirmed: the node's bearer token from now on
//   host -> node  error {code, message, fatal} (messages.h) refused, then a close with 4009
//
// `code` is the short code the node shows its operator (6 digits); the operator confirms it on the
// bridge (`earshot-bridge pair`). Pure: no sockets.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/messages.h"

namespace earshot::protocol {

inline constexpr uint16_t kClosePairingRefused = 4009;  // pair_request refused (error says why)
inline constexpr size_t kPairingCodeDigits = 6;

struct PairRequest {
  std::vector<int> versions{kProtocolVersion};
  std::string node_id;
  std::string code;  // kPairingCodeDigits decimal digits
  std::optional<std::string> room;
};

struct PairPending {
  int window_s = 0;  // how long the pairing window stays open from now
};

struct Paired {
  std::string node_id;
  std::string token;  // the node's bearer token
};

using PairingMessage = std::variant<PairRequest, PairPending, Paired>;

// True when `text` is a JSON object whose "type" is one of the pairing messages (a look before
// parse_pairing_message, once per connection; false for anything else, including invalid JSON).
bool is_pairing_message(std::string_view text);

struct PairingParseResult {
  std::optional<PairingMessage> message;
  std::string error;  // when !message: what was wrong, e.g. "pair_request.code: 6 digits"
  bool ok() const { return message.has_value(); }
};

// Validates one text frame travelling `direction` (pair_request goes up, the others down).
PairingParseResult parse_pairing_message(std::string_view text, Direction direction);

std::string to_json(const PairingMessage& message);

// True when `code` is exactly kPairingCodeDigits decimal digits.
bool is_valid_pairing_code(std::string_view code);

}  // namespace earshot::protocol
