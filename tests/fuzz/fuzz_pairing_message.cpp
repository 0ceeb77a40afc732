// Fuzzes the pairing-message parser (protocol/pairing.h) in both directions: a node's
// pair_request reaches the bridge from anyone on the network before any token is checked. Checks
// beyond "no crash": a refusal says why, and a message that parses serializes to JSON that parses
// back to the same JSON.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "protocol/pairing.h"

using namespace earshot::protocol;

static void check_round_trip(std::string_view text, Direction direction) {
  PairingParseResult first = parse_pairing_message(text, direction);
  if (!first.ok()) {
    if (first.error.empty()) abort();
    return;
  }
  if (!is_pairing_message(text)) abort();
  const std::string json = to_json(*first.message);
  PairingParseResult second = parse_pairing_message(json, direction);
  if (!second.ok() || to_json(*second.message) != json) abort();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  check_round_trip(text, Direction::kNodeToHost);
  check_round_trip(text, Direction::kHostToNode);
  return 0;
}
