// The node's logging: one line per event to stderr (the journal under systemd), with a level and a
// component, e.g. "<4>earshot-node link: connection lost (retry in 0.4 s)".
//
// The "<N>" prefix is the syslog priority that journald reads from stderr (sd-daemon(3)), so the
// journal gets levels without linking libsystemd; pass --log-plain for terminals.
// Audio-path code must not log per frame: use RateLimiter, which lets one line through per interval
// and counts what it held back.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdarg>
#include <cstdint>

namespace earshot::device {

enum class LogLevel { kError = 3, kWarning = 4, kInfo = 6, kDebug = 7 };

void set_log_level(LogLevel level);
void set_log_prefix_priority(bool on);  // "<N>" prefixes for journald (default on)
bool log_enabled(LogLevel level);
void log_line(LogLevel level, const char* component, const char* format, ...)
    __attribute__((format(printf, 3, 4)));

#define ES_LOG_ERROR(component, ...) \
  ::earshot::device::log_line(::earshot::device::LogLevel::kError, component, __VA_ARGS__)
#define ES_LOG_WARN(component, ...) \
  ::earshot::device::log_line(::earshot::device::LogLevel::kWarning, component, __VA_ARGS__)
#define ES_LOG_INFO(component, ...) \
  ::earshot::device::log_line(::earshot::device::LogLevel::kInfo, component, __VA_ARGS__)
#define ES_LOG_DEBUG(component, ...)                                                            \
  do {                                                                                          \
    if (::earshot::device::log_enabled(::earshot::device::LogLevel::kDebug))                    \
      ::earshot::device::log_line(::earshot::device::LogLevel::kDebug, component, __VA_ARGS__); \
  } while (0)

// Lets at most one event through per interval; counts the rest. Lock-free; safe from any thread.
class RateLimiter {
 public:
  // At most `burst` lines per `interval` (a burst lets distinct problems arriving together show).
  explicit RateLimiter(std::chrono::milliseconds interval, int burst = 1)
      : interval_ns_(interval.count() * 1000000), burst_(burst) {}
  // True if the caller may log now; `suppressed` (if given) receives how many were held back since.
  bool allow(uint64_t* suppressed = nullptr);

 private:
  int64_t interval_ns_;
  int burst_;
  std::atomic<int> burst_left_{0};
  std::atomic<int64_t> next_ns_{0};
  std::atomic<uint64_t> held_{0};
};

}  // namespace earshot::device
