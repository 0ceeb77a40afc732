// LatencyMeter: how long a captured frame waits inside the node before its bytes reach the socket.
//
// The pipeline thread marks a frame (its wire seq and the moment the 10 ms capture chunk completing
// it was taken from the capture ring); the link thread reports when that seq was written to the
// socket. Frames that are held back on purpose (pre-roll, redelivery after a reconnect) are not
// marked. Lock-free and allocation-free after construction: a ring of slots matched by seq, and a
// histogram of 0.1 ms bins only the link thread writes. Read the percentiles once the link stopped.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace earshot::device {

class LatencyMeter {
 public:
  // Pipeline thread: frame `seq` was complete at `ready_ns` (CLOCK_MONOTONIC).
  void mark(uint64_t seq, int64_t ready_ns);
  // Link thread: frame `seq` was written to the socket at `sent_ns`.
  void sent(uint64_t seq, int64_t sent_ns);
  size_t count() const { return count_; }
  // The latency below which `fraction` (0..1) of the measured frames fall, in milliseconds.
  double percentile_ms(double fraction) const;

  static int64_t now_ns();

 private:
  static constexpr size_t kSlots = 1024;  // frames in flight we can match (20 s of speech)
  static constexpr size_t kBins = 2000;   // 0.1 ms each, up to 200 ms; slower lands in the last
  struct Slot {
    std::atomic<uint64_t> seq_plus_one{0};
    std::atomic<int64_t> ready_ns{0};
  };
  std::array<Slot, kSlots> slots_{};
  std::array<uint32_t, kBins> bins_{};
  size_t count_ = 0;
};

}  // namespace earshot::device
