// Wyoming event framing (rhasspy/wyoming README, "Format"): each event is
//
//   {"type": "...", "data": {...}, "data_length": N, "payload_length": M, "version": "..."}\n
//   <N bytes: a JSON object, merged over the header's "data">
//   <M bytes: binary payload, usually raw PCM>
//
// The header is one line of UTF-8 JSON; `type` is required, the rest optional. EventReader cuts a
// byte stream into events incrementally (bytes in as they arrive, whole events out) and enforces
// limits on the header line, the data and the payload, so a peer cannot make us buffer without
// bound. A framing error breaks the stream for good (nothing after it can be trusted to start an
// event): the connection is closed after telling the peer why. serialize() writes events the way
// the reference implementation does (data as a separate block with data_length).
//
// Pure: no sockets, no threads. An EventReader belongs to one connection and one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace earshot::protocol::wyoming {

// The protocol version we write in headers: the wyoming package version whose events we speak.
inline constexpr const char* kVersion = "1.5.4";

// One event. `data` is a JSON object as text ("{}" when the event has none): typed readers in
// events.h parse it; no JSON library type leaks out of this header.
struct Event {
  std::string type;
  std::string data = "{}";
  std::string payload;  // binary, may be empty
};

struct FramingLimits {
  size_t max_header_bytes = 16 * 1024;     // the JSON line, newline included
  size_t max_data_bytes = 256 * 1024;      // info events of services with many voices are large
  size_t max_payload_bytes = 1024 * 1024;  // ~32 s of 16 kHz pcm16; satellites send ~64 ms
};

struct FramingError {
  std::string code;     // header_too_long, bad_header, missing_type, bad_length, data_too_long,
                        // payload_too_long, bad_data
  std::string message;  // for a person: what was wrong and the limit, if one was passed
};

class EventReader {
 public:
  explicit EventReader(FramingLimits limits = {});

  // Takes `bytes` (any split of the stream) and appends every event they complete to `out`.
  // Returns false once the stream is broken; error() says why, and later calls do nothing.
  bool feed(std::string_view bytes, std::vector<Event>* out);

  bool broken() const { return broken_; }
  const FramingError& error() const { return error_; }
  // Bytes held for an event not yet complete.
  size_t buffered() const { return buffer_.size() - start_; }

 private:
  enum class Stage { kHeader, kData, kPayload };
  bool fail(std::string code, std::string message);
  bool take_header(std::string_view line);
  bool take_data(std::string_view bytes);

  FramingLimits limits_;
  std::string buffer_;
  size_t start_ = 0;  // first unconsumed byte of buffer_
  Stage stage_ = Stage::kHeader;
  Event pending_;
  size_t data_length_ = 0, payload_length_ = 0;
  bool broken_ = false;
  FramingError error_;
};

// The event's bytes on the wire. `data` must be a JSON object ("{}" or empty for none).
std::string serialize(const Event& event);
// Appends the same bytes to `out` (reuses its capacity: the reply audio path).
void serialize_to(const Event& event, std::string* out);

}  // namespace earshot::protocol::wyoming
