// Binary audio frames of the earshot.v1 wire protocol: one Opus packet behind a fixed header.
//
// Layout (all multi-byte fields big-endian, "network order"):
//
//   offset size field
//   0      1    version    always kAudioFrameVersion (1)
//   1      1    stream     Stream: 0 = microphone (node -> host), 1 = reply (host -> node)
//   2      2    flags      AudioFlags bit set; undefined bits must be zero
//   4      8    seq        per-stream sequence number; +1 for every frame sent on that stream
//   12     8    timestamp  first sample of the packet, in samples at the stream's sample rate
//   20     n    payload    exactly one Opus packet, 1..kMaxOpusPacket bytes
//
// The parser never trusts a length: it validates every field and returns a FrameError instead of
// throwing. It does not copy: AudioFrameView points into the caller's buffer.
#pragma once

#include <cstddef>
#include <cstdint>

namespace earshot::protocol {

inline constexpr uint8_t kAudioFrameVersion = 1;
inline constexpr size_t kAudioHeaderSize = 20;
inline constexpr size_t kMaxOpusPacket = 1275;  // RFC 6716, section 3.4 (R5)
inline constexpr size_t kMaxAudioFrameSize = kAudioHeaderSize + kMaxOpusPacket;

enum class Stream : uint8_t {
  kMicrophone = 0,  // speech captured by a node
  kReply = 1,       // synthesized speech the host sends back
};

// Flag bits. A segment is the run of frames from one speech start to its end (pre-roll included);
// start and end travel in the frames themselves so that a replay after reconnect carries them too.
enum AudioFlags : uint16_t {
  kFlagSegmentStart = 1u << 0,  // first frame of a speech segment (the node's VAD fired)
  kFlagSegmentEnd = 1u << 1,    // last frame of a segment (VAD hangover expired)
  kFlagRedelivery = 1u << 2,    // sent again after a reconnect; the host drops it if already seen
  kFlagPreRoll = 1u << 3,       // audio from before the VAD fired (kept so first words survive)
};
inline constexpr uint16_t kKnownFlags =
    kFlagSegmentStart | kFlagSegmentEnd | kFlagRedelivery | kFlagPreRoll;

struct AudioFrameHeader {
  Stream stream = Stream::kMicrophone;
  uint16_t flags = 0;
  uint64_t seq = 0;
  uint64_t timestamp = 0;
};

// A parsed frame. `payload` points into the buffer given to parse_audio_frame().
struct AudioFrameView {
  AudioFrameHeader header;
  const uint8_t* payload = nullptr;
  size_t payload_size = 0;
};

enum class FrameError {
  kOk = 0,
  kTooShort,       // fewer than kAudioHeaderSize + 1 bytes
  kBadVersion,     // version byte is not kAudioFrameVersion
  kBadStream,      // stream byte names no Stream
  kUnknownFlags,   // a flag bit outside kKnownFlags is set
  kOversized,      // payload longer than kMaxOpusPacket
  kBufferTooSmall, // (writer) output buffer cannot hold the frame
  kEmptyPayload,   // (writer) no Opus packet given
};

// A short English description, e.g. "audio frame too short". Never null.
const char* to_string(FrameError error);

// Writes header + payload into `out`. Returns the number of bytes written (kAudioHeaderSize +
// payload_size), or 0 and sets `*error` (if given) when the payload is empty, too large, the
// header has unknown flags, or `capacity` is too small. Never allocates.
size_t write_audio_frame(const AudioFrameHeader& header, const uint8_t* payload,
                         size_t payload_size, uint8_t* out, size_t capacity,
                         FrameError* error = nullptr);

// Parses one binary WebSocket message. On kOk, `*out` describes it; otherwise `*out` is untouched.
FrameError parse_audio_frame(const uint8_t* data, size_t size, AudioFrameView* out);

// Big-endian helpers, shared by the writer, the parser and the tests.
void store_be16(uint8_t* p, uint16_t v);
void store_be64(uint8_t* p, uint64_t v);
uint16_t load_be16(const uint8_t* p);
uint64_t load_be64(const uint8_t* p);

}  // namespace earshot::protocol
