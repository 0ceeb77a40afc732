#include "protocol/wyoming/framing.h"

#include <nlohmann/json.hpp>

#include <cstdio>

namespace earshot::protocol::wyoming {
namespace {

using json = nlohmann::json;

// A length field: absent or null means none; otherwise a non-negative integer.
bool read_length(const json& header, const char* key, size_t* out) {
  *out = 0;
  auto it = header.find(key);
  if (it == header.end() || it->is_null()) return true;
  if (it->is_number_unsigned()) {
    *out = it->get<size_t>();
    return true;
  }
  if (it->is_number_integer() && it->get<int64_t>() >= 0) {
    *out = size_t(it->get<int64_t>());
    return true;
  }
  return false;
}

void append_json_string(std::string_view s, std::string* out) {
  out->push_back('"');
  for (const char c : s) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          snprintf(buf, sizeof buf, "\\u%04x", unsigned(c));
          out->append(buf);
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

}  // namespace

EventReader::EventReader(FramingLimits limits) : limits_(limits) {}

bool EventReader::fail(std::string code, std::string message) {
  broken_ = true;
  error_ = {std::move(code), std::move(message)};
  buffer_.clear();
  start_ = 0;
  return false;
}

bool EventReader::take_header(std::string_view line) {
  json header = json::parse(line, nullptr, false);
  if (header.is_discarded() || !header.is_object())
    return fail("bad_header", "the event header is not a JSON object on one line");
  auto type = header.find("type");
  if (type == header.end() || !type->is_string() || type->get_ref<const std::string&>().empty())
    return fail("missing_type", "the event header has no \"type\" string");
  pending_ = Event{type->get<std::string>(), "{}", {}};
  auto data = header.find("data");
  if (data != header.end() && !data->is_null()) {
    if (!data->is_object()) return fail("bad_header", "the header's \"data\" is not an object");
    pending_.data = data->dump(-1, ' ', false, json::error_handler_t::replace);
  }
  if (!read_length(header, "data_length", &data_length_) ||
      !read_length(header, "payload_length", &payload_length_))
    return fail("bad_length", "data_length and payload_length must be non-negative integers");
  if (data_length_ > limits_.max_data_bytes)
    return fail("data_too_long", "event data of " + std::to_string(data_length_) +
                                     " bytes is over the limit of " +
                                     std::to_string(limits_.max_data_bytes));
  if (payload_length_ > limits_.max_payload_bytes)
    return fail("payload_too_long", "event payload of " + std::to_string(payload_length_) +
                                        " bytes is over the limit of " +
                                        std::to_string(limits_.max_payload_bytes));
  return true;
}

// The additional data block: a JSON object merged over the header's data.
bool EventReader::take_data(std::string_view bytes) {
  json extra = json::parse(bytes, nullptr, false);
  if (extra.is_discarded() || !extra.is_object())
    return fail("bad_data", "the event's data block is not a JSON object");
  json merged = json::parse(pending_.data, nullptr, false);
  if (merged.is_discarded() || !merged.is_object()) merged = json::object();
  for (auto& [key, value] : extra.items())
    merged[key] = std::move(value);
  pending_.data = merged.dump(-1, ' ', false, json::error_handler_t::replace);
  return true;
}

bool EventReader::feed(std::string_view bytes, std::vector<Event>* out) {
  if (broken_) return false;
  buffer_.append(bytes);
  while (true) {
    const size_t available = buffer_.size() - start_;
    if (stage_ == Stage::kHeader) {
      const size_t newline = buffer_.find('\n', start_);
      if (newline == std::string::npos) {
        if (available >= limits_.max_header_bytes)
          return fail("header_too_long", "no end of the event header line within " +
                                             std::to_string(limits_.max_header_bytes) + " bytes");
        break;
      }
      const size_t length = newline - start_;
      if (length + 1 > limits_.max_header_bytes)
        return fail("header_too_long", "an event header line of " + std::to_string(length + 1) +
                                           " bytes is over the limit of " +
                                           std::to_string(limits_.max_header_bytes));
      std::string_view line(buffer_.data() + start_, length);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      start_ = newline + 1;
      if (line.find_first_not_of(" \t") == std::string_view::npos) continue;  // a blank line
      if (!take_header(line)) return false;
      stage_ = Stage::kData;
      continue;
    }
    if (stage_ == Stage::kData) {
      if (data_length_ > 0) {
        if (available < data_length_) break;
        if (!take_data(std::string_view(buffer_.data() + start_, data_length_))) return false;
        start_ += data_length_;
      }
      stage_ = Stage::kPayload;
      continue;
    }
    // kPayload
    if (available < payload_length_) break;
    pending_.payload.assign(buffer_, start_, payload_length_);
    start_ += payload_length_;
    out->push_back(std::move(pending_));
    pending_ = Event{};
    stage_ = Stage::kHeader;
  }
  // Drop what was consumed once it is most of the buffer (amortised: no copy per event).
  if (start_ > 0 && (start_ == buffer_.size() || start_ > buffer_.size() / 2)) {
    buffer_.erase(0, start_);
    start_ = 0;
  }
  return true;
}

void serialize_to(const Event& event, std::string* out) {
  const bool has_data = !event.data.empty() && event.data != "{}";
  out->append("{\"type\":");
  append_json_string(event.type, out);
  out->append(",\"version\":\"");
  out->append(kVersion);
  out->push_back('"');
  if (has_data) {
    out->append(",\"data_length\":");
    out->append(std::to_string(event.data.size()));
  }
  if (!event.payload.empty()) {
    out->append(",\"payload_length\":");
    out->append(std::to_string(event.payload.size()));
  }
  out->append("}\n");
  if (has_data) out->append(event.data);
  out->append(event.payload);
}

std::string serialize(const Event& event) {
  std::string out;
  serialize_to(event, &out);
  return out;
}

}  // namespace earshot::protocol::wyoming
