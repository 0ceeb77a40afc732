#include "host/engines/speech_text.h"

#include <cctype>

namespace earshot::host {
namespace {

constexpr std::string_view kOpen = "<think>";
constexpr std::string_view kClose = "</think>";

// Length of the longest suffix of `s` that is a proper prefix of `tag`.
size_t partial_tag_suffix(std::string_view s, std::string_view tag) {
  for (size_t n = std::min(s.size(), tag.size() - 1); n > 0; --n)
    if (s.substr(s.size() - n) == tag.substr(0, n)) return n;
  return 0;
}

}  // namespace

std::string ThinkFilter::push(std::string_view text) {
  pending_.append(text);
  std::string out;
  while (!pending_.empty()) {
    const std::string_view tag = in_think_ ? kClose : kOpen;
    const size_t at = pending_.find(tag);
    if (at != std::string::npos) {
      if (!in_think_) out.append(pending_, 0, at);
      pending_.erase(0, at + tag.size());
      in_think_ = !in_think_;
      continue;
    }
    const size_t keep = partial_tag_suffix(pending_, tag);
    if (!in_think_) out.append(pending_, 0, pending_.size() - keep);
    pending_.erase(0, pending_.size() - keep);
    break;
  }
  return out;
}

std::string ThinkFilter::finish() {
  std::string out = in_think_ ? std::string() : pending_;
  pending_.clear();
  return out;
}

ThinkSplit split_think(std::string_view text) {
  ThinkSplit out;
  while (!text.empty()) {
    const size_t open = text.find(kOpen);
    if (open == std::string_view::npos) {
      out.outside.append(text);
      break;
    }
    out.outside.append(text.substr(0, open));
    const size_t close = text.find(kClose, open + kOpen.size());
    const size_t end = close == std::string_view::npos ? text.size() : close + kClose.size();
    out.think.append(text.substr(open, end - open));
    text.remove_prefix(end);
  }
  return out;
}

std::string clean_for_speech(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool line_start = true;
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (line_start) {
      // Headings, bullets, quote marks, table rules at the start of a line.
      size_t j = i;
      while (j < text.size() && (text[j] == ' ' || text[j] == '\t'))
        ++j;
      size_t k = j;
      while (k < text.size() && (text[k] == '#' || text[k] == '>'))
        ++k;
      if (k < text.size() && (text[k] == '-' || text[k] == '*' || text[k] == '+') &&
          k + 1 < text.size() && text[k + 1] == ' ')
        k += 2;
      if (k > j) {
        i = k;
        line_start = false;
        continue;
      }
      if (text.substr(j, 3) == "```") {  // a code fence line: drop it whole
        const size_t nl = text.find('\n', j);
        i = nl == std::string_view::npos ? text.size() : nl + 1;
        continue;
      }
    }
    line_start = false;
    if (c == '\n') {
      line_start = true;
      out += ' ';
      ++i;
      continue;
    }
    if (c == '*' || c == '_' || c == '`' || c == '|' || c == '~') {
      // Emphasis and code marks; an underscore inside a word (snake_case) stays.
      if (c == '_' && i > 0 && i + 1 < text.size() &&
          std::isalnum(static_cast<unsigned char>(text[i - 1])) &&
          std::isalnum(static_cast<unsigned char>(text[i + 1]))) {
        out += c;
      } else if (c == '|') {
        out += ' ';
      }
      ++i;
      continue;
    }
    if (c == '[') {  // [label](target) -> label
      const size_t close = text.find(']', i);
      if (close != std::string_view::npos && close + 1 < text.size() && text[close + 1] == '(') {
        const size_t end = text.find(')', close);
        if (end != std::string_view::npos) {
          out.append(text.substr(i + 1, close - i - 1));
          i = end + 1;
          continue;
        }
      }
    }
    if (c == '<') {  // stray tags (<br>, leftover <think>) are not read
      const size_t end = text.find('>', i);
      if (end != std::string_view::npos && end - i < 32 &&
          (std::isalpha(static_cast<unsigned char>(text[i + 1])) || text[i + 1] == '/')) {
        i = end + 1;
        continue;
      }
    }
    out += c;
    ++i;
  }
  // Collapse runs of whitespace and trim.
  std::string collapsed;
  collapsed.reserve(out.size());
  for (char ch : out) {
    const bool space = ch == ' ' || ch == '\t' || ch == '\r';
    if (space) {
      if (!collapsed.empty() && collapsed.back() != ' ') collapsed += ' ';
    } else {
      collapsed += ch;
    }
  }
  while (!collapsed.empty() && collapsed.back() == ' ')
    collapsed.pop_back();
  // A table rule like "---" leaves only dashes: not worth saying.
  if (collapsed.find_first_not_of("-: ") == std::string::npos) return {};
  return collapsed;
}

}  // namespace earshot::host
