// Fuzzes the JSON control-message parser (protocol/messages.h) in both directions. Checks beyond
// "no crash": a message that parses serializes to JSON that parses back to the same JSON.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "protocol/messages.h"

using namespace earshot::protocol;

static void check_round_trip(std::string_view text, Direction direction) {
  ParseResult first = parse_message(text, direction);
  if (!first.ok()) {
    if (first.error.empty()) abort();  // a refusal must say why
    return;
  }
  std::string json = to_json(*first.message);
  ParseResult second = parse_message(json, direction);
  if (!second.ok() || to_json(*second.message) != json) abort();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  check_round_trip(text, Direction::kNodeToHost);
  check_round_trip(text, Direction::kHostToNode);
  return 0;
}
