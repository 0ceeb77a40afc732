// The xiaozhi-esp32 firmware's binary WebSocket messages: one Opus packet each, in one of three
// framings chosen by the protocol version the device announces (the Protocol-Version header and
// its hello's "version"; the OTA check-in may set it). Source: the firmware's
// main/protocols/protocol.h (BinaryProtocol2/3) and websocket_protocol.cc, docs/websocket.md.
//
//   version 1: the Opus packet alone.
//   version 2: 16-byte header, big-endian (network order):
//              u16 version (2) | u16 type (0 Opus, 1 JSON) | u32 reserved | u32 timestamp (ms, for
//              server-side AEC) | u32 payload_size | payload
//   version 3: 4-byte header: u8 type (0 Opus) | u8 reserved | u16 payload_size (big-endian) |
//              payload
//
// The same framing goes both ways. A message must hold exactly its header and payload_size bytes;
// anything else is refused with the reason. Pure functions, no allocation.
#pragma once

#include <cstddef>
#include <cstdint>

namespace earshot::protocol::xiaozhi {

inline constexpr int kMinVersion = 1;
inline constexpr int kMaxVersion = 3;
inline constexpr size_t kHeader2Bytes = 16;
inline constexpr size_t kHeader3Bytes = 4;
// The largest Opus payload accepted: a 60 ms packet at the firmware's settings is ~100-200 bytes;
// libopus never writes more than 1275 bytes per 20 ms frame, so 3 frames and some room.
inline constexpr size_t kMaxAudioPayload = 4000;
inline constexpr size_t kMaxBinaryBytes = kHeader2Bytes + kMaxAudioPayload;

enum class BinaryError {
  kOk,
  kUnsupportedVersion,  // not 1, 2 or 3
  kEmpty,               // no payload
  kTooShort,            // shorter than the version's header
  kTooLarge,            // payload over kMaxAudioPayload
  kSizeMismatch,        // payload_size says another length than the message has
  kVersionMismatch,     // version 2: the header's version field is not 2
  kNotAudio,            // the header's type is not 0 (Opus)
};
const char* to_string(BinaryError e);

bool is_supported_version(int version);
// 0, 16 or 4; 0 for an unsupported version too.
size_t header_bytes(int version);

struct AudioPacketView {
  uint32_t timestamp_ms = 0;  // version 2 only; 0 otherwise
  const uint8_t* payload = nullptr;
  size_t size = 0;
};

// Reads one binary message of protocol `version`. The view points into `data`.
BinaryError parse_audio(int version, const uint8_t* data, size_t size, AudioPacketView* out);

// Writes one Opus packet in protocol `version`'s framing. Returns the bytes written, or 0 when the
// version is not supported, the payload is empty or too large, or `capacity` is too small.
size_t write_audio(int version, uint32_t timestamp_ms, const uint8_t* payload, size_t size,
                   uint8_t* out, size_t capacity);

}  // namespace earshot::protocol::xiaozhi
