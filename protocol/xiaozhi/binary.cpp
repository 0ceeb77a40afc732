#include "protocol/xiaozhi/binary.h"

#include <cstring>

namespace earshot::protocol::xiaozhi {
namespace {

uint16_t be16(const uint8_t* p) {
  return uint16_t(uint16_t(p[0]) << 8 | p[1]);
}
uint32_t be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}
void put16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v >> 8);
  p[1] = uint8_t(v);
}
void put32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24);
  p[1] = uint8_t(v >> 16);
  p[2] = uint8_t(v >> 8);
  p[3] = uint8_t(v);
}

}  // namespace

const char* to_string(BinaryError e) {
  switch (e) {
    case BinaryError::kOk:
      return "ok";
    case BinaryError::kUnsupportedVersion:
      return "unsupported binary protocol version (1, 2 and 3 are)";
    case BinaryError::kEmpty:
      return "no Opus payload";
    case BinaryError::kTooShort:
      return "shorter than the protocol version's header";
    case BinaryError::kTooLarge:
      return "Opus payload larger than 4000 bytes";
    case BinaryError::kSizeMismatch:
      return "payload_size does not match the message's length";
    case BinaryError::kVersionMismatch:
      return "the header's version field is not the connection's protocol version";
    case BinaryError::kNotAudio:
      return "the header's type is not 0 (Opus)";
  }
  return "unknown error";
}

bool is_supported_version(int version) {
  return version >= kMinVersion && version <= kMaxVersion;
}

size_t header_bytes(int version) {
  return version == 2 ? kHeader2Bytes : version == 3 ? kHeader3Bytes : 0;
}

BinaryError parse_audio(int version, const uint8_t* data, size_t size, AudioPacketView* out) {
  *out = AudioPacketView{};
  if (!is_supported_version(version)) return BinaryError::kUnsupportedVersion;
  const size_t header = header_bytes(version);
  if (size < header) return BinaryError::kTooShort;
  size_t payload_size = size - header;
  if (version == 2) {
    if (be16(data) != 2) return BinaryError::kVersionMismatch;
    if (be16(data + 2) != 0) return BinaryError::kNotAudio;
    out->timestamp_ms = be32(data + 8);
    if (be32(data + 12) != payload_size) return BinaryError::kSizeMismatch;
  } else if (version == 3) {
    if (data[0] != 0) return BinaryError::kNotAudio;
    if (be16(data + 2) != payload_size) return BinaryError::kSizeMismatch;
  }
  if (payload_size == 0) return BinaryError::kEmpty;
  if (payload_size > kMaxAudioPayload) return BinaryError::kTooLarge;
  out->payload = data + header;
  out->size = payload_size;
  return BinaryError::kOk;
}

size_t write_audio(int version, uint32_t timestamp_ms, const uint8_t* payload, size_t size,
                   uint8_t* out, size_t capacity) {
  if (!is_supported_version(version) || size == 0 || size > kMaxAudioPayload) return 0;
  const size_t header = header_bytes(version);
  if (capacity < header + size) return 0;
  if (version == 2) {
    put16(out, 2);
    put16(out + 2, 0);
    put32(out + 4, 0);
    put32(out + 8, timestamp_ms);
    put32(out + 12, uint32_t(size));
  } else if (version == 3) {
    out[0] = 0;
    out[1] = 0;
    put16(out + 2, uint16_t(size));
  }
  std::memcpy(out + header, payload, size);
  return header + size;
}

}  // namespace earshot::protocol::xiaozhi
