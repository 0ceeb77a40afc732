// Fuzzes the xiaozhi-esp32 binary audio framings (protocol/xiaozhi/binary.h). The first byte picks
// the protocol version (0-4: 4 is one the parser must refuse), the rest is the message. Checks
// beyond "no crash": a packet that parses lies inside the message and is not empty or oversized,
// and writing it again in the same version gives back a message that parses to the same payload
// (and, for version 2, the same timestamp).
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "protocol/xiaozhi/binary.h"

using namespace earshot::protocol::xiaozhi;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const int version = data[0] % 5;
  const uint8_t* message = data + 1;
  const size_t length = size - 1;
  AudioPacketView v;
  const BinaryError e = parse_audio(version, message, length, &v);
  if (e != BinaryError::kOk) {
    if (std::strlen(to_string(e)) == 0) abort();
    return 0;
  }
  if (!is_supported_version(version)) abort();
  if (v.size == 0 || v.size > kMaxAudioPayload) abort();
  if (v.payload < message || v.payload + v.size != message + length) abort();
  static uint8_t out[kMaxBinaryBytes];
  const size_t n = write_audio(version, v.timestamp_ms, v.payload, v.size, out, sizeof out);
  if (n == 0) abort();
  AudioPacketView again;
  if (parse_audio(version, out, n, &again) != BinaryError::kOk) abort();
  if (again.size != v.size || std::memcmp(again.payload, v.payload, v.size) != 0) abort();
  if (again.timestamp_ms != v.timestamp_ms) abort();
  return 0;
}
