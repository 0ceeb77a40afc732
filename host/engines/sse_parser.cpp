#include "host/engines/sse_parser.h"

namespace earshot::host {

bool SseParser::line(std::string_view text,
                     const std::function<bool(const std::string&)>& on_event) {
  if (text.empty()) {  // blank line: dispatch
    const bool had = has_data_ && !skipping_;
    std::string data;
    data.swap(data_);
    has_data_ = false;
    skipping_ = false;
    return had ? on_event(data) : true;
  }
  if (text[0] == ':') return true;  // comment
  if (line_overflow_) {
    line_overflow_ = false;
    if (!skipping_) ++oversized_;
    skipping_ = true;
    data_.clear();
    return true;
  }
  const size_t colon = text.find(':');
  std::string_view field = text.substr(0, colon);
  std::string_view value =
      colon == std::string_view::npos ? std::string_view() : text.substr(colon + 1);
  if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  if (field != "data" || skipping_) return true;
  if (data_.size() + value.size() + 1 > max_event_) {
    ++oversized_;
    skipping_ = true;
    data_.clear();
    return true;
  }
  if (has_data_) data_ += '\n';
  data_.append(value);
  has_data_ = true;
  return true;
}

bool SseParser::push(std::string_view bytes,
                     const std::function<bool(const std::string& data)>& on_event) {
  for (char c : bytes) {
    if (c == '\n' && last_was_cr_) {  // the LF of a CRLF: the line was already ended
      last_was_cr_ = false;
      continue;
    }
    last_was_cr_ = c == '\r';
    if (c == '\n' || c == '\r') {
      const std::string text = std::move(line_);
      line_.clear();
      if (!line(text, on_event)) return false;
      continue;
    }
    if (line_.size() < max_event_)
      line_ += c;
    else
      line_overflow_ = true;
  }
  return true;
}

}  // namespace earshot::host
