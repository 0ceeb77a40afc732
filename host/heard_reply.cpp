#include "host/heard_reply.h"

#include <algorithm>
#include <sstream>

#include "dsp/audio_format.h"

namespace earshot::host {

std::string leading_words(const std::string& text, double fraction) {
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string w; in >> w;)
    words.push_back(w);
  const size_t n = size_t(double(words.size()) * std::clamp(fraction, 0.0, 1.0) + 1e-9);
  std::string out;
  for (size_t i = 0; i < n; ++i)
    out += (i ? " " : "") + words[i];
  return out;
}

namespace {

uint64_t word_count(const std::string& text) {
  std::istringstream in(text);
  uint64_t n = 0;
  for (std::string w; in >> w;)
    ++n;
  return n;
}

}  // namespace

std::vector<std::string> heard_sentences(const std::vector<VoicedSentence>& sentences,
                                         const PlayedPoint& played) {
  uint64_t point = 0;  // samples heard
  if (played.reported_ms) {
    point = *played.reported_ms * uint64_t(dsp::kSampleRate / 1000);
  } else if (played.frames_on_wire) {
    point = *played.frames_on_wire * uint64_t(dsp::kCodecFrameSamples);
  }
  std::vector<std::string> heard;
  heard.reserve(sentences.size());
  for (const VoicedSentence& s : sentences) {
    uint64_t length = s.end_sample - s.first_sample;
    if (!s.made_whole) length = std::max(length, word_count(s.text) * kSamplesPerWordSpoken);
    if (point >= s.first_sample + length) {
      heard.push_back(s.text);
    } else if (point > s.first_sample) {
      heard.push_back(leading_words(
          s.text, double(point - s.first_sample) / double(std::max<uint64_t>(1, length))));
    } else {
      heard.emplace_back();
    }
  }
  return heard;
}

std::string heard_part(const std::vector<VoicedSentence>& sentences, const PlayedPoint& played) {
  std::string heard;
  for (const std::string& part : heard_sentences(sentences, played))
    if (!part.empty()) heard += (heard.empty() ? "" : " ") + part;
  return heard;
}

}  // namespace earshot::host
