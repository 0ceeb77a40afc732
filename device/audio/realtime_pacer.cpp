#include <time.h>

#include <algorithm>
#include <cerrno>

#include "device/audio/audio_source.h"

namespace earshot::device {
namespace {
int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}
}  // namespace

bool RealtimePacer::wait_for(uint64_t total_frames, const std::atomic<bool>* interrupted) {
  if (start_ns_ < 0) start_ns_ = now_ns();
  const int64_t due = start_ns_ + int64_t(total_frames * 1000000000ull / uint64_t(rate_));
  // Sleep in slices of at most 20 ms so interrupt() takes effect promptly.
  while (!interrupted->load()) {
    const int64_t now = now_ns();
    if (now >= due) return true;
    const int64_t until = std::min<int64_t>(due, now + 20000000);
    timespec ts{time_t(until / 1000000000), long(until % 1000000000)};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
  }
  return false;
}

}  // namespace earshot::device
