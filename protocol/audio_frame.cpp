#include "protocol/audio_frame.h"

#include <cstring>

namespace earshot::protocol {

void store_be16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v >> 8);
  p[1] = uint8_t(v);
}

void store_be64(uint8_t* p, uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    p[i] = uint8_t(v);
    v >>= 8;
  }
}

uint16_t load_be16(const uint8_t* p) {
  return uint16_t(uint16_t(p[0]) << 8 | p[1]);
}

uint64_t load_be64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v = v << 8 | p[i];
  return v;
}

const char* to_string(FrameError error) {
  switch (error) {
    case FrameError::kOk:
      return "ok";
    case FrameError::kTooShort:
      return "audio frame too short (header is 20 bytes, then Opus)";
    case FrameError::kBadVersion:
      return "audio frame has an unknown version byte";
    case FrameError::kBadStream:
      return "audio frame names an unknown stream";
    case FrameError::kUnknownFlags:
      return "audio frame sets undefined flag bits";
    case FrameError::kOversized:
      return "audio frame payload exceeds 1275 bytes";
    case FrameError::kBufferTooSmall:
      return "output buffer too small for the audio frame";
    case FrameError::kEmptyPayload:
      return "audio frame has no Opus packet";
  }
  return "unknown audio frame error";
}

size_t write_audio_frame(const AudioFrameHeader& header, const uint8_t* payload,
                         size_t payload_size, uint8_t* out, size_t capacity, FrameError* error) {
  FrameError e = FrameError::kOk;
  if (payload_size == 0 || payload == nullptr) {
    e = FrameError::kEmptyPayload;
  } else if (payload_size > kMaxOpusPacket) {
    e = FrameError::kOversized;
  } else if (header.flags & ~kKnownFlags) {
    e = FrameError::kUnknownFlags;
  } else if (header.stream != Stream::kMicrophone && header.stream != Stream::kReply) {
    e = FrameError::kBadStream;
  } else if (capacity < kAudioHeaderSize + payload_size) {
    e = FrameError::kBufferTooSmall;
  }
  if (error) *error = e;
  if (e != FrameError::kOk) return 0;
  out[0] = kAudioFrameVersion;
  out[1] = uint8_t(header.stream);
  store_be16(out + 2, header.flags);
  store_be64(out + 4, header.seq);
  store_be64(out + 12, header.timestamp);
  std::memcpy(out + kAudioHeaderSize, payload, payload_size);
  return kAudioHeaderSize + payload_size;
}

FrameError parse_audio_frame(const uint8_t* data, size_t size, AudioFrameView* out) {
  if (data == nullptr || size < kAudioHeaderSize + 1) return FrameError::kTooShort;
  if (data[0] != kAudioFrameVersion) return FrameError::kBadVersion;
  if (data[1] > uint8_t(Stream::kReply)) return FrameError::kBadStream;
  const uint16_t flags = load_be16(data + 2);
  if (flags & ~kKnownFlags) return FrameError::kUnknownFlags;
  if (size - kAudioHeaderSize > kMaxOpusPacket) return FrameError::kOversized;
  out->header.stream = Stream(data[1]);
  out->header.flags = flags;
  out->header.seq = load_be64(data + 4);
  out->header.timestamp = load_be64(data + 12);
  out->payload = data + kAudioHeaderSize;
  out->payload_size = size - kAudioHeaderSize;
  return FrameError::kOk;
}

}  // namespace earshot::protocol
