// What an LLM writes is not always what should be said. These helpers turn model output into
// speakable text:
//   - ThinkFilter removes <think>…</think> (reasoning some models write inline) from a stream,
//     tags split across chunks included, so thinking is never spoken;
//   - split_think() separates a whole answer's thinking from its text (for the history);
//   - clean_for_speech() strips the markdown a voice should not read aloud (emphasis, code marks,
//     headings, list bullets, link targets, tables) and collapses whitespace.
#pragma once

#include <string>
#include <string_view>

namespace earshot::host {

class ThinkFilter {
 public:
  // Feeds streamed text; returns the part outside <think>…</think> that is now certain (text that
  // might be the start of a tag is held back until the next call or finish()).
  std::string push(std::string_view text);
  std::string finish();
  bool in_think() const { return in_think_; }

 private:
  std::string pending_;
  bool in_think_ = false;
};

std::string clean_for_speech(std::string_view text);

// A model's whole output cut into its <think>…</think> blocks (tags included, in order, exactly as
// written; an unclosed last block runs to the end) and the text outside them.
struct ThinkSplit {
  std::string think;
  std::string outside;
};
ThinkSplit split_think(std::string_view text);

}  // namespace earshot::host
