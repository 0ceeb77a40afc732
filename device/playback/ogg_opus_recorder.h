// OggOpusRecorder: `earshot-node --record FILE.opus` — writes the 16 kHz audio the node sends as a
// standard Ogg Opus file (libopusenc), playable by anything and decodable by Debian's opusdec.
// Off the real-time path; close() finalizes the file (without it the last page is missing).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

struct OggOpusEnc;

namespace earshot::device {

struct OpusencApi;

class OggOpusRecorder {
 public:
  static std::unique_ptr<OggOpusRecorder> create(const std::string& path, int sample_rate,
                                                 std::string* error);
  ~OggOpusRecorder();
  OggOpusRecorder(const OggOpusRecorder&) = delete;
  OggOpusRecorder& operator=(const OggOpusRecorder&) = delete;

  bool write(const float* pcm, size_t frames);
  bool close(std::string* error);

 private:
  OggOpusRecorder() = default;
  const OpusencApi* ope_ = nullptr;  // libopusenc, loaded on first use (optional_libs.h)
  OggOpusEnc* encoder_ = nullptr;
  std::string path_;
};

}  // namespace earshot::device
