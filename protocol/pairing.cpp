#include "protocol/pairing.h"

#include <nlohmann/json.hpp>

namespace earshot::protocol {
namespace {

using json = nlohmann::json;

constexpr size_t kMaxTokenLength = 1024;
constexpr size_t kMaxRoomLength = 128;

const json* field(const json& o, const char* name) {
  auto it = o.find(name);
  return it == o.end() ? nullptr : &*it;
}

PairingParseResult fail(const std::string& type, const char* name, const std::string& what) {
  PairingParseResult r;
  r.error = type + "." + name + ": " + what;
  return r;
}

PairingParseResult read_request(const json& o) {
  PairRequest m;
  if (const json* v = field(o, "versions")) {
    if (!v->is_array() || v->empty() || v->size() > 16)
      return fail("pair_request", "versions", "must be a non-empty array of protocol versions");
    m.versions.clear();
    for (const json& e : *v) {
      if (!e.is_number_integer() || e.get<int64_t>() < 1 || e.get<int64_t>() > 1000)
        return fail("pair_request", "versions", "must hold positive integers");
      m.versions.push_back(int(e.get<int64_t>()));
    }
  }
  const json* id = field(o, "node_id");
  if (!id || !id->is_string() || !is_valid_id(id->get_ref<const std::string&>()))
    return fail("pair_request", "node_id", "must be 1-64 characters of [A-Za-z0-9._-]");
  m.node_id = id->get<std::string>();
  const json* code = field(o, "code");
  if (!code || !code->is_string() || !is_valid_pairing_code(code->get_ref<const std::string&>()))
    return fail("pair_request", "code", "must be a string of 6 decimal digits");
  m.code = code->get<std::string>();
  if (const json* room = field(o, "room")) {
    if (!room->is_string() || room->get_ref<const std::string&>().size() > kMaxRoomLength)
      return fail("pair_request", "room", "must be a string of at most 128 bytes");
    m.room = room->get<std::string>();
  }
  PairingParseResult r;
  r.message = std::move(m);
  return r;
}

PairingParseResult read_pending(const json& o) {
  const json* w = field(o, "window_s");
  if (!w || !w->is_number_integer() || w->get<int64_t>() < 0 || w->get<int64_t>() > 86400)
    return fail("pair_pending", "window_s", "must be an integer 0-86400");
  PairingParseResult r;
  r.message = PairPending{int(w->get<int64_t>())};
  return r;
}

PairingParseResult read_paired(const json& o) {
  Paired m;
  const json* id = field(o, "node_id");
  if (!id || !id->is_string() || !is_valid_id(id->get_ref<const std::string&>()))
    return fail("paired", "node_id", "must be 1-64 characters of [A-Za-z0-9._-]");
  m.node_id = id->get<std::string>();
  const json* token = field(o, "token");
  if (!token || !token->is_string() || token->get_ref<const std::string&>().empty() ||
      token->get_ref<const std::string&>().size() > kMaxTokenLength)
    return fail("paired", "token", "must be a string of 1-1024 bytes");
  m.token = token->get<std::string>();
  // A token goes into an HTTP header: printable ASCII only.
  for (char c : m.token)
    if (c <= ' ' || c > '~') return fail("paired", "token", "must be printable ASCII");
  PairingParseResult r;
  r.message = std::move(m);
  return r;
}

std::optional<json> parse_object(std::string_view text) {
  if (text.size() > kMaxControlMessageSize) return std::nullopt;
  json o = json::parse(text, nullptr, false);
  if (o.is_discarded() || !o.is_object()) return std::nullopt;
  return o;
}

}  // namespace

bool is_valid_pairing_code(std::string_view code) {
  if (code.size() != kPairingCodeDigits) return false;
  for (char c : code)
    if (c < '0' || c > '9') return false;
  return true;
}

bool is_pairing_message(std::string_view text) {
  std::optional<json> o = parse_object(text);
  if (!o) return false;
  const json* type = field(*o, "type");
  if (!type || !type->is_string()) return false;
  const std::string& t = type->get_ref<const std::string&>();
  return t == "pair_request" || t == "pair_pending" || t == "paired";
}

PairingParseResult parse_pairing_message(std::string_view text, Direction direction) {
  PairingParseResult r;
  if (text.size() > kMaxControlMessageSize) {
    r.error = "message larger than " + std::to_string(kMaxControlMessageSize) + " bytes";
    return r;
  }
  std::optional<json> o = parse_object(text);
  if (!o) {
    r.error = "not a JSON object";
    return r;
  }
  const json* type = field(*o, "type");
  if (!type || !type->is_string()) {
    r.error = "type: missing";
    return r;
  }
  const std::string& t = type->get_ref<const std::string&>();
  const bool up = direction == Direction::kNodeToHost;
  if (t == "pair_request" && up) return read_request(*o);
  if (t == "pair_pending" && !up) return read_pending(*o);
  if (t == "paired" && !up) return read_paired(*o);
  r.error =
      "type: '" + t + "' is not a pairing message travelling " + (up ? "node->host" : "host->node");
  return r;
}

std::string to_json(const PairingMessage& message) {
  struct Writer {
    json operator()(const PairRequest& m) const {
      json o = {{"type", "pair_request"},
                {"versions", m.versions},
                {"node_id", m.node_id},
                {"code", m.code}};
      if (m.room) o["room"] = *m.room;
      return o;
    }
    json operator()(const PairPending& m) const {
      return {{"type", "pair_pending"}, {"window_s", m.window_s}};
    }
    json operator()(const Paired& m) const {
      return {{"type", "paired"}, {"node_id", m.node_id}, {"token", m.token}};
    }
  };
  return std::visit(Writer{}, message).dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace earshot::protocol
