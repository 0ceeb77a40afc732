#include "device/log.h"

#include <time.h>

#include <cstdio>

namespace earshot::device {
namespace {
std::atomic<int> g_level{int(LogLevel::kInfo)};
std::atomic<bool> g_priority_prefix{true};

int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}
}  // namespace

void set_log_level(LogLevel level) {
  g_level.store(int(level));
}
void set_log_prefix_priority(bool on) {
  g_priority_prefix.store(on);
}
bool log_enabled(LogLevel level) {
  return int(level) <= g_level.load(std::memory_order_relaxed);
}

void log_line(LogLevel level, const char* component, const char* format, ...) {
  if (!log_enabled(level)) return;
  char message[1024];
  va_list args;
  va_start(args, format);
  vsnprintf(message, sizeof message, format, args);
  va_end(args);
  // One fprintf per line so lines from different threads do not interleave.
  if (g_priority_prefix.load(std::memory_order_relaxed)) {
    fprintf(stderr, "<%d>%s: %s\n", int(level), component, message);
  } else {
    static const char* const kNames[] = {"", "", "", "error", "warning", "", "info", "debug"};
    fprintf(stderr, "%s %s: %s\n", kNames[int(level)], component, message);
  }
}

bool RateLimiter::allow(uint64_t* suppressed) {
  const int64_t now = now_ns();
  int64_t next = next_ns_.load(std::memory_order_relaxed);
  if (now >= next && next_ns_.compare_exchange_strong(next, now + interval_ns_)) {
    burst_left_.store(burst_ - 1, std::memory_order_relaxed);
    const uint64_t held = held_.exchange(0);
    if (suppressed) *suppressed = held;
    return true;
  }
  if (burst_left_.fetch_sub(1, std::memory_order_relaxed) > 0) {
    if (suppressed) *suppressed = 0;
    return true;
  }
  held_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

}  // namespace earshot::device
