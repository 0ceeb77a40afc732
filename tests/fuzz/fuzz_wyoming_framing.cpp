// Fuzzes the Wyoming event framing (protocol/wyoming/framing.h) and the typed readers on what it
// yields. Checks beyond "no crash": the same bytes fed in two different splits give the same
// events and the same verdict; a broken stream says why; every event read serialises to bytes
// that read back to the same event; the readers never throw on any event's data.
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "protocol/wyoming/events.h"
#include "protocol/wyoming/framing.h"

using namespace earshot::protocol::wyoming;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  FramingLimits limits;
  limits.max_header_bytes = 512;
  limits.max_data_bytes = 2048;
  limits.max_payload_bytes = 4096;

  EventReader whole(limits);
  std::vector<Event> a;
  const bool ok_whole = whole.feed(bytes, &a);
  // The same bytes a few at a time (split lengths from the first byte).
  EventReader pieces(limits);
  std::vector<Event> b;
  bool ok_pieces = true;
  const size_t step = size ? 1 + data[0] % 13 : 1;
  for (size_t at = 0; at < size && ok_pieces; at += step)
    ok_pieces = pieces.feed(bytes.substr(at, step), &b);
  // A header too long is found as soon as the limit is passed: both ways agree on it too.
  if (ok_whole != ok_pieces) abort();
  if (!ok_whole && (whole.error().code.empty() || whole.error().message.empty())) abort();
  if (a.size() != b.size()) abort();
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].type != b[i].type || a[i].data != b[i].data || a[i].payload != b[i].payload) abort();
    // Round trip through the serialiser.
    EventReader again({1 << 20, 1 << 20, 1 << 20});
    std::vector<Event> c;
    if (!again.feed(serialize(a[i]), &c) || c.size() != 1) abort();
    if (c[0].type != a[i].type || c[0].payload != a[i].payload) abort();
    // Typed readers: a value or a reason, never a throw.
    for (auto r :
         {read_audio_start(a[i]).error, read_audio_chunk(a[i]).error, read_run_pipeline(a[i]).error,
          read_transcribe(a[i]).error, read_synthesize(a[i]).error, read_detection(a[i]).error,
          read_satellite_info(a[i]).error, read_text(a[i]).error})
      (void)r;
  }
  return 0;
}
