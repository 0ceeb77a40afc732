// What the person heard of a reply that was cut off (barge-in), for the history and the store.
//
// The reply is known as the sentences voiced, each with the span of 16 kHz samples it took. How far
// playback got is, in order of trust: what the node reported it played; else the reply frames that
// reached the wire (an upper bound: the node cannot have played more); else nothing — a reply cut
// before its first frame left the bridge was not heard at all, however much of it was synthesized.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace earshot::host {

struct VoicedSentence {
  std::string text;
  uint64_t first_sample = 0;  // where its audio starts in the reply (16 kHz samples)
  uint64_t end_sample = 0;    // one past its last sample
  int part = 0;               // which part of the reply it belongs to (the responder's tag)
  // Its audio was all made. False when the reply was cut while it was being synthesized: then
  // end_sample is only how far synthesis got, and its length is estimated from its words.
  bool made_whole = true;
};

struct PlayedPoint {
  std::optional<uint64_t> reported_ms;     // the node's interrupt / playback_done
  std::optional<uint64_t> frames_on_wire;  // reply frames written when it was cut
};

// Whole sentences before the point, then the leading words of the sentence it fell in. A sentence
// not made whole is taken to last at least kSamplesPerWordSpoken per word, so one cut before any
// of its audio was made is not heard at all.
inline constexpr uint64_t kSamplesPerWordSpoken = 6400;  // 400 ms: 2.5 words a second
std::string heard_part(const std::vector<VoicedSentence>& sentences, const PlayedPoint& played);
// The same, sentence by sentence: what was heard of each ("" for nothing), in order.
std::vector<std::string> heard_sentences(const std::vector<VoicedSentence>& sentences,
                                         const PlayedPoint& played);

// The words of `text` a listener heard when playback stopped after `fraction` of it.
std::string leading_words(const std::string& text, double fraction);

}  // namespace earshot::host
