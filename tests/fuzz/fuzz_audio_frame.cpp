// Fuzzes the binary audio frame parser (protocol/audio_frame.h) with whatever a peer could send.
// Checks beyond "no crash": a frame that parses re-serializes to exactly the bytes it came from.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "protocol/audio_frame.h"

using namespace earshot::protocol;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  AudioFrameView view;
  if (parse_audio_frame(data, size, &view) != FrameError::kOk) return 0;
  if (view.payload != data + kAudioHeaderSize || view.payload_size != size - kAudioHeaderSize) {
    abort();
  }
  uint8_t out[kMaxAudioFrameSize];
  FrameError error = FrameError::kOk;
  size_t written =
      write_audio_frame(view.header, view.payload, view.payload_size, out, sizeof out, &error);
  if (written != size || std::memcmp(out, data, size) != 0) abort();
  return 0;
}
