// Base64 (RFC 4648, standard alphabet) for the audio the OpenAI Realtime API carries in JSON.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace earshot::protocol::realtime {

// Padded output ("=" to a multiple of 4 characters).
std::string base64_encode(const uint8_t* data, size_t size);
std::string base64_encode(std::string_view bytes);

// Decodes `text` into `*out` (replacing it). Padding may be left off; anything else that is not
// standard base64 (whitespace, the URL-safe alphabet, "=" inside the text, a lone trailing
// character, non-zero bits after the last byte) is refused: false, and `*out` is unspecified.
bool base64_decode(std::string_view text, std::string* out);

// The decoded size of well-formed `text`, without decoding it (for size limits).
size_t base64_decoded_size(std::string_view text);

}  // namespace earshot::protocol::realtime
