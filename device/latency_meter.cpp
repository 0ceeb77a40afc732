#include "device/latency_meter.h"

#include <time.h>

namespace earshot::device {

int64_t LatencyMeter::now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void LatencyMeter::mark(uint64_t seq, int64_t ready_ns) {
  Slot& slot = slots_[seq % kSlots];
  slot.seq_plus_one.store(0, std::memory_order_relaxed);  // invalid while being rewritten
  slot.ready_ns.store(ready_ns, std::memory_order_relaxed);
  slot.seq_plus_one.store(seq + 1, std::memory_order_release);
}

void LatencyMeter::sent(uint64_t seq, int64_t sent_ns) {
  Slot& slot = slots_[seq % kSlots];
  if (slot.seq_plus_one.load(std::memory_order_acquire) != seq + 1) return;  // not marked
  const int64_t ready = slot.ready_ns.load(std::memory_order_relaxed);
  slot.seq_plus_one.store(0, std::memory_order_relaxed);  // once: a resend is not measured
  const int64_t bin = (sent_ns - ready) / 100000;
  bins_[size_t(bin < 0 ? 0 : (bin >= int64_t(kBins) ? int64_t(kBins) - 1 : bin))]++;
  ++count_;
}

double LatencyMeter::percentile_ms(double fraction) const {
  if (count_ == 0) return 0;
  const double want = fraction * double(count_);
  double seen = 0;
  for (size_t i = 0; i < kBins; ++i) {
    seen += bins_[i];
    if (seen >= want) return double(i + 1) * 0.1;  // the bin's upper edge: never flattering
  }
  return double(kBins) * 0.1;
}

}  // namespace earshot::device
