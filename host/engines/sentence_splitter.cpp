#include "host/engines/sentence_splitter.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace earshot::host {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// Words after which a period does not end a sentence (lower-cased, without the period).
bool is_abbreviation(std::string_view word) {
  static constexpr std::array<std::string_view, 24> kAbbreviations = {
      "mr", "mrs", "ms", "dr",     "prof", "st", "sr", "jr",  "vs",  "etc", "e.g", "i.e",
      "eg", "ie",  "no", "approx", "fig",  "mt", "ft", "inc", "ltd", "co",  "jan", "feb"};
  std::string lower;
  for (char c : word)
    lower += char(std::tolower(static_cast<unsigned char>(c)));
  return std::find(kAbbreviations.begin(), kAbbreviations.end(), lower) != kAbbreviations.end();
}

// Length in bytes of a multi-byte sentence terminator at `p` (…, 。, ！, ？), or 0.
size_t wide_terminator(std::string_view s, size_t p) {
  static constexpr std::array<std::string_view, 4> kWide = {"\xE2\x80\xA6", "\xE3\x80\x82",
                                                            "\xEF\xBC\x81", "\xEF\xBC\x9F"};
  for (std::string_view t : kWide)
    if (s.substr(p, t.size()) == t) return t.size();
  return 0;
}

}  // namespace

size_t SentenceSplitter::find_boundary(bool at_end) const {
  const std::string_view s = buffer_;
  for (size_t i = 0; i < s.size(); ++i) {
    // Paragraph break, or a line break before a list item.
    if (s[i] == '\n') {
      size_t j = i + 1;
      if (j >= s.size()) {
        if (at_end) return i + 1;
        return 0;  // wait: the next line decides
      }
      if (s[j] == '\n' || s[j] == '-' || s[j] == '*' || s[j] == '#' ||
          std::isdigit(static_cast<unsigned char>(s[j])))
        return i + 1;
    }
    size_t term = 0;
    if (s[i] == '.' || s[i] == '!' || s[i] == '?') {
      term = 1;
      while (i + term < s.size() &&
             (s[i + term] == '.' || s[i + term] == '!' || s[i + term] == '?' ||
              s[i + term] == '"' || s[i + term] == '\'' || s[i + term] == ')'))
        ++term;
    } else if (size_t w = wide_terminator(s, i)) {
      return i + w;  // CJK terminators need no following space
    }
    if (!term) continue;
    const size_t after = i + term;
    if (after >= s.size()) return at_end ? after : 0;  // wait for what follows
    if (!is_space(s[after])) {
      i = after - 1;
      continue;  // "3.5", "e.g.x"
    }
    if (s[i] == '.' && term == 1) {
      size_t w = i;
      while (w > 0 && !is_space(s[w - 1]))
        --w;
      if (is_abbreviation(s.substr(w, i - w))) continue;
    }
    // The next word: a lower-case start continues the sentence ("approx. three").
    size_t next = after;
    while (next < s.size() && is_space(s[next]))
      ++next;
    if (next >= s.size()) {
      if (at_end) return after;
      return 0;
    }
    if (s[i] == '.' && std::islower(static_cast<unsigned char>(s[next]))) continue;
    return after;
  }
  // A long first sentence: cut at a clause break once it is long enough.
  if (!first_done_ && config_.first_clause_min_chars > 0 &&
      s.size() > config_.first_clause_min_chars) {
    for (size_t i = config_.first_clause_min_chars; i + 1 < s.size(); ++i) {
      if ((s[i] == ',' || s[i] == ';' || s[i] == ':') && is_space(s[i + 1])) return i + 1;
      if (s.substr(i, 3) == "\xE2\x80\x94") return i + 3;  // em dash
    }
  }
  if (s.size() > config_.max_chars) {
    const size_t cut = s.rfind(' ', config_.max_chars);
    return cut == std::string::npos || cut == 0 ? config_.max_chars : cut + 1;
  }
  return at_end ? s.size() : 0;
}

void SentenceSplitter::emit_upto(size_t end, const Emit& emit) {
  std::string sentence = buffer_.substr(0, end);
  buffer_.erase(0, end);
  size_t b = 0, e = sentence.size();
  while (b < e && is_space(sentence[b]))
    ++b;
  while (e > b && is_space(sentence[e - 1]))
    --e;
  if (e > b) {
    first_done_ = true;
    emit(sentence.substr(b, e - b));
  }
}

void SentenceSplitter::push(std::string_view text, const Emit& emit) {
  buffer_.append(text);
  while (size_t end = find_boundary(false))
    emit_upto(end, emit);
}

void SentenceSplitter::finish(const Emit& emit) {
  while (!buffer_.empty()) {
    size_t end = find_boundary(true);
    if (end == 0) end = buffer_.size();
    emit_upto(end, emit);
  }
}

}  // namespace earshot::host
