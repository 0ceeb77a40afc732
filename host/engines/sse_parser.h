// SseParser: Server-Sent Events (the text/event-stream framing of streaming OpenAI-compatible
// APIs) from bytes as they arrive. Handles CRLF or LF line ends, events split across reads,
// comment lines (": keep-alive"), several "data:" lines per event (joined with "\n") and fields
// it does not use (event:, id:, retry:). Bounded: an event larger than max_event_bytes is dropped
// and reported as an error instead of growing without limit.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace earshot::host {

class SseParser {
 public:
  explicit SseParser(size_t max_event_bytes = 1 << 20) : max_event_(max_event_bytes) {}
  // Feeds bytes; calls on_event(data) for each complete event that has data. Returns false (and
  // stops) if on_event returned false.
  bool push(std::string_view bytes, const std::function<bool(const std::string& data)>& on_event);
  size_t oversized_events() const { return oversized_; }

 private:
  bool line(std::string_view text, const std::function<bool(const std::string&)>& on_event);
  std::string line_;
  std::string data_;
  bool has_data_ = false;
  bool skipping_ = false;  // inside an oversized event
  bool last_was_cr_ = false;
  bool line_overflow_ = false;  // the current line passed max_event_bytes
  size_t max_event_;
  size_t oversized_ = 0;
};

}  // namespace earshot::host
