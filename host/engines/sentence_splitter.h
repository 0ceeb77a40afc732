// SentenceSplitter: cuts the LLM's streamed text into sentences the moment each is complete, so
// text-to-speech can start on the first sentence while the model is still writing the rest.
//
//   - A sentence ends at . ! ? … (and their CJK forms) followed by a space, once the next word is
//     known not to continue it: "3.5", "e.g. this" and "Dr. Smith" do not end sentences.
//   - A blank line, or a line break before a list item, ends a sentence too.
//   - The first sentence is cut early at a clause break (, ; : —) once it has
//   first_clause_min_chars,
//     so a long opening sentence does not delay the first audio.
//   - Nothing waits forever: past max_chars, the text is cut at the last space.
// Not thread-safe: one splitter per reply.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace earshot::host {

struct SplitterConfig {
  size_t first_clause_min_chars = 40;  // 0: never cut the first sentence at a clause
  size_t max_chars = 300;
};

class SentenceSplitter {
 public:
  using Emit = std::function<void(std::string sentence)>;
  explicit SentenceSplitter(SplitterConfig config) : config_(config) {}

  // Appends streamed text; emits every sentence that is now complete (trimmed, never empty).
  void push(std::string_view text, const Emit& emit);
  // End of the stream: emits what is left.
  void finish(const Emit& emit);

 private:
  void emit_upto(size_t end, const Emit& emit);
  // The end (exclusive) of the first complete sentence in buffer_, or 0 if none yet.
  size_t find_boundary(bool at_end) const;

  SplitterConfig config_;
  std::string buffer_;
  bool first_done_ = false;
};

}  // namespace earshot::host
